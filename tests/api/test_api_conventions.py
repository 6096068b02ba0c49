"""API conventions: the bearer token and readable operation ids in the OpenAPI document, ``DELETE
/api/studies/{name}``, incremental trial fetches (``?after=``) and named objectives in Optuna."""

from __future__ import annotations

import optuna
import pytest
from fastapi.testclient import TestClient

from nas.api import Settings, create_app

TOKEN = "conventions-token-0123456789ab"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def app_client(tmp_path):
    from benchmarks.bench_api import seed_fake_study

    url = f"sqlite:///{tmp_path / 'nas.db'}"
    seed_fake_study(url, "fake", 60, seed=3, history_every=10)
    with TestClient(create_app(Settings(db_url=url, api_token=TOKEN))) as c:
        yield c, url


def test_openapi_declares_the_bearer_token_and_readable_operation_ids(app_client):
    client, _ = app_client
    doc = client.get("/openapi.json").json()
    scheme = doc["components"]["securitySchemes"]["bearer"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer" and "nas token create" in scheme["description"]
    ops = {(m, p): op for p, item in doc["paths"].items() for m, op in item.items()}
    assert ops[("post", "/api/studies")]["security"] == [{"bearer": []}]
    assert ops[("delete", "/api/studies/{name}")]["security"] == [{"bearer": []}]
    assert "security" not in ops[("get", "/api/health")]
    ids = [op["operationId"] for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert {"create_study", "list_studies", "get_study", "delete_study", "get_trial", "upload_dataset",
            "check_space"} <= set(ids)
    assert all(i.replace("_", "").isalnum() for i in ids), ids  # no generated "..._api_studies__name__get"


def test_after_returns_only_newer_trials(app_client):
    client, _ = app_client
    everything = client.get("/api/studies/fake/trials?per_page=1000&sort=finished_at").json()["items"]
    ids = sorted(t["id"] for t in everything)
    newer = client.get(f"/api/studies/fake/trials?per_page=1000&after={ids[39]}").json()
    assert newer["total"] == 20 and sorted(t["id"] for t in newer["items"]) == ids[40:]
    assert client.get(f"/api/studies/fake/trials?after={ids[-1]}").json()["total"] == 0
    assert client.get("/api/studies/fake/trials?after=-1").status_code == 422


def test_delete_study(app_client):
    client, url = app_client
    body = {"name": "short", "dataset": "synthetic:60", "n_trials": 1}
    assert client.post("/api/studies", headers=AUTH, json=body).status_code == 201
    assert client.delete("/api/studies/short").status_code == 401
    r = client.delete("/api/studies/short", headers=AUTH)
    assert r.status_code == 422 and "is running: stop it first" in r.json()["detail"]
    client.post("/api/studies/short/stop", headers=AUTH)
    assert client.delete("/api/studies/short", headers=AUTH).status_code == 204
    assert client.get("/api/studies/short").status_code == 404
    assert "short" not in optuna.get_all_study_names(url)
    assert client.delete("/api/studies/short", headers=AUTH).status_code == 404
    client.post("/api/studies/fake/stop", headers=AUTH)
    assert client.delete("/api/studies/fake", headers=AUTH).status_code == 204  # with its 60 trials and fronts
    assert client.get("/api/studies").json() == []


def test_optuna_studies_have_named_objectives(app_client):
    client, url = app_client
    body = {"name": "named", "dataset": "synthetic:60", "objectives": ["accuracy", "flash_kb"]}
    assert client.post("/api/studies", headers=AUTH, json=body).status_code == 201
    assert optuna.load_study(study_name="named", storage=url).metric_names == ["accuracy", "flash_kb"]
