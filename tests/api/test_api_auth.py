"""Writes and token checks: launching and stopping studies, 401s without a stack trace, malformed
bodies answered with the field that was wrong, tokens from the database, protected reads."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from nas import service
from nas.api import Settings, create_app
from nas.errors import ConfigError
from nas.study.tables import make_engine, make_sessionmaker
from tests.api.conftest import TOKEN

TOKEN_FOR_TESTS = "another-test-token-abcdef012345"


@pytest.fixture()
def app_db(tmp_path):
    """A fresh app on an empty database (no trials: these tests only write studies)."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with TestClient(create_app(Settings(db_url=url, api_token=TOKEN_FOR_TESTS))) as c:
        yield c, url


def _auth(token: str = TOKEN_FOR_TESTS) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_launch_list_stop_resume(app_db):
    c, _ = app_db
    body = {"name": "launched", "dataset": "synthetic:160", "n_trials": 3, "devices": ["nrf52840", "pi-5"]}
    r = c.post("/api/studies", json=body, headers=_auth())
    assert r.status_code == 201, r.text
    s = r.json()
    assert (s["name"], s["status"], s["budget"], s["claimed"], s["progress"]) == ("launched", "running", 3, 0, 0.0)
    assert s["config"]["devices"] == ["nrf52840", "pi-5"] and s["config"]["space"] == "demo"
    assert [x["name"] for x in c.get("/api/studies").json()] == ["launched"]
    assert c.post("/api/studies/launched/stop", headers=_auth()).json()["status"] == "stopped"
    assert c.get("/api/studies/launched").json()["status"] == "stopped"
    assert c.post("/api/studies/launched/resume", headers=_auth()).json()["status"] == "running"
    dup = c.post("/api/studies", json=body, headers=_auth())
    assert dup.status_code == 409 and "already exists" in dup.json()["detail"]


@pytest.mark.parametrize("headers, message", [
    ({}, "needs an API token"),
    ({"Authorization": "Bearer wrong-token-0000000000"}, "invalid API token"),
    ({"Authorization": TOKEN_FOR_TESTS}, "malformed Authorization header"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "malformed Authorization header"),
    ({"Authorization": "Bearer "}, "malformed Authorization header"),
])
def test_writes_without_a_valid_token_get_401(app_db, headers, message):
    c, _ = app_db
    for method, url, body in (("post", "/api/studies", {"name": "x"}), ("post", "/api/studies/x/stop", None)):
        r = c.request(method, url, json=body, headers=headers)
        assert r.status_code == 401, (url, r.text)
        assert message in r.json()["detail"] and r.headers["www-authenticate"] == "Bearer"
        assert "Traceback" not in r.text
    assert c.get("/api/studies").json() == []  # nothing was written


@pytest.mark.parametrize("body, expect", [
    ({}, "body field 'name': Field required"),
    ({"name": "ok", "n_trials": 0}, "body field 'n_trials'"),
    ({"name": "ok", "n_trials": "many"}, "body field 'n_trials'"),
    ({"name": "ok", "colour": "red"}, "body field 'colour': Extra inputs are not permitted"),
    ({"name": "has space"}, "body field 'name'"),
    ({"name": "ok", "objectives": ["accuracy", "speed"]}, "unknown objective(s) ['speed']"),
    ({"name": "ok", "space": "../../etc/passwd"}, "not a path"),
    ({"name": "ok", "space": "/tmp/x.yaml"}, "not a path"),
    ({"name": "ok", "devices": ["hw_profiles/pi-5.yaml"]}, "is not a profile name"),
    ({"name": "ok", "dataset": "folder:/etc"}, "body field 'dataset'"),
    ({"name": "ok", "seed": -1}, "body field 'seed'"),
    ({"name": "ok", "sampler": "grid"}, "body field 'sampler'"),
    ({"name": "ok", "max_latency_ms": -5}, "body field 'max_latency_ms'"),
    ({"name": "ok", "space": "nonexistent"}, "unknown search space 'nonexistent'"),
    ({"name": "ok", "devices": ["stm32-imaginary"]}, "stm32-imaginary"),
    ({"name": "ok", "dataset": "speechcommands"}, "unknown dataset 'speechcommands'"),
])
def test_malformed_bodies_get_422_naming_the_field(app_db, body, expect):
    c, _ = app_db
    r = c.post("/api/studies", json=body, headers=_auth())
    assert r.status_code == 422, r.text
    assert expect in r.json()["detail"], r.json()["detail"]


def test_non_json_body_and_wrong_method(app_db):
    c, _ = app_db
    r = c.post("/api/studies", content=b"{not json", headers={**_auth(), "Content-Type": "application/json"})
    assert r.status_code == 422 and "JSON decode error" in r.json()["detail"]
    r = c.post("/api/studies", content=b"[1, 2]", headers={**_auth(), "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"].startswith("invalid request: body")
    r = c.delete("/api/studies", headers=_auth())  # without a token: a 401 before routing
    assert r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"}


def test_database_tokens_unlock_writes_and_can_be_revoked(app_db):
    c, url = app_db
    sessions = make_sessionmaker(make_engine(url))
    with sessions() as s:
        token = service.create_api_token(s, "ci-bot")
        with pytest.raises(ConfigError, match="already exists"):
            service.create_api_token(s, "ci-bot")
    r = c.post("/api/studies", json={"name": "by-bot"}, headers=_auth(token))
    assert r.status_code == 201 and r.json()["config"]["name"] == "by-bot"
    with sessions() as s:
        assert service.study_info(s, "by-bot") is not None
        service.revoke_api_token(s, "ci-bot")
    assert c.post("/api/studies/by-bot/stop", headers=_auth(token)).status_code == 401


def test_reads_can_require_a_token(seeded):
    app = create_app(Settings(db_url=seeded.url, api_token=TOKEN, read_requires_token=True))
    with TestClient(app) as c:
        for url in ("/api/studies", "/api/studies/api-tiny", "/api/studies/api-tiny/pareto", "/api/devices",
                    "/api/trials/1", "/api/trials/1/model.tflite"):
            assert c.get(url).status_code == 401, url
            assert c.get(url, headers=_auth(TOKEN)).status_code == 200, url
        assert c.get("/api/health").status_code == 200  # load balancers need it
        r = c.get("/studies/api-tiny", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/studies/api-tiny"
        c.cookies.set("nas_token", TOKEN)
        assert c.get("/studies/api-tiny").status_code == 200  # the dashboard's cookie


@pytest.mark.parametrize("token", [None, "", "changethis", "short", "a" * 16, "abab" * 8])
def test_settings_refuse_missing_or_weak_tokens_outside_dev(token):
    with pytest.raises(ConfigError, match="NAS_API_TOKEN"):
        Settings.build(api_token=token)
    assert Settings.build(api_token=token, dev=True).dev


def test_settings_from_env():
    token = "env-token-0123456789"
    s = Settings.from_env({"NAS_API_TOKEN": token, "NAS_DB": "sqlite:///a.db",
                           "NAS_API_READ_REQUIRES_TOKEN": "1"})
    assert (s.db_url, s.token, s.read_requires_token, s.dev) == ("sqlite:///a.db", token, True, False)
    assert Settings.from_env({"NAS_API_TOKEN": token}, db_url="sqlite:///b.db").db_url == "sqlite:///b.db"
    assert token not in repr(s)  # a SecretStr: never in logs
