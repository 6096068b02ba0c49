"""Every REST endpoint through the real app on a real SQLite database: a study of 4 real trials
(trained, exported, priced) and a 120-trial study of realistic rows for paging and sorting."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nas import service
from nas.study.tables import ParetoPointRow, StudyRow, TrialRow, make_engine, make_sessionmaker
from tests.api.conftest import FAKE, FAKE_TRIALS, STUDY

pytestmark = pytest.mark.slow  # the session fixture trains 4 tiny models (~20 s)


def test_health_devices_spaces(client):
    assert client.get("/api/health").json() == {"status": "ok", "database": "ok", "version": "0.1.0"}
    devices = {d["name"]: d for d in client.get("/api/devices").json()}
    assert devices["nucleo-l4r5zi"]["sram_kb"] == 640 and devices["host"]["measured"] is True
    spaces = {s["name"]: s for s in client.get("/api/spaces").json()}
    assert "demo" in spaces and spaces["demo"]["families"]


def test_list_and_get_study(client):
    names = [s["name"] for s in client.get("/api/studies").json()]
    assert STUDY in names and FAKE in names
    s = client.get(f"/api/studies/{STUDY}").json()
    assert (s["status"], s["budget"], s["finished"], s["progress"]) == ("finished", 4, 4, 1.0)
    assert s["config"]["devices"] == ["nucleo-l4r5zi", "nrf52840"]
    assert s["best"]["accuracy"] is not None and 0 < s["hypervolume"] <= 1


def test_unknown_study_is_a_json_404(client):
    for url in ("/api/studies/nope", "/api/studies/nope/pareto", "/api/studies/nope/trials",
                "/api/studies/nope/history", "/api/studies/a%00b", "/api/studies/" + "x" * 100):
        r = client.get(url)
        assert r.status_code == 404, url
        assert "no study named" in r.json()["detail"]
    assert client.get("/api/studies/..%2F..%2Fetc").json() == {"detail": "Not Found"}


def test_pareto_matches_the_stored_front(client, seeded):
    sessions = make_sessionmaker(make_engine(seeded.url))
    for device in ("nucleo-l4r5zi", "nrf52840"):
        body = client.get(f"/api/studies/{FAKE}/pareto", params={"device": device}).json()
        with sessions() as s:
            sid = s.scalar(select(StudyRow.id).where(StudyRow.name == FAKE))
            stored = set(s.scalars(select(ParetoPointRow.trial_id).where(ParetoPointRow.study_id == sid,
                                                                         ParetoPointRow.device == device)))
        assert body["device"] == device and body["feasible_only"] is True
        assert {p["trial_id"] for p in body["points"]} == stored and len(stored) > 3
        assert all(p["feasible"] and p["device"] == device for p in body["points"])
        accs = [p["accuracy"] for p in body["points"]]
        assert accs == sorted(accs, reverse=True)
    front = client.get(f"/api/studies/{FAKE}/pareto").json()["points"]
    every = client.get(f"/api/studies/{FAKE}/pareto", params={"feasible_only": "false"}).json()["points"]
    n_infeasible = client.get(f"/api/studies/{FAKE}/trials", params={"status": "infeasible"}).json()["total"]
    assert n_infeasible > 0 and len(every) == len(front) + n_infeasible
    assert [p for p in every if p["feasible"]] == front


def test_pareto_unknown_device_says_which_exist(client):
    r = client.get(f"/api/studies/{STUDY}/pareto", params={"device": "pi-5"})
    assert r.status_code == 404
    assert "has no device 'pi-5'" in r.json()["detail"] and "nucleo-l4r5zi" in r.json()["detail"]


def test_trials_paging_and_sorting(client):
    page1 = client.get(f"/api/studies/{FAKE}/trials", params={"per_page": 50}).json()
    assert page1["total"] == FAKE_TRIALS and [t["number"] for t in page1["items"]] == list(range(50))
    page3 = client.get(f"/api/studies/{FAKE}/trials", params={"per_page": 50, "page": 3}).json()
    assert [t["number"] for t in page3["items"]] == list(range(100, 120))
    by_acc = client.get(f"/api/studies/{FAKE}/trials",
                        params={"sort": "accuracy", "order": "desc", "per_page": 1000}).json()["items"]
    accs = [t["accuracy"] for t in by_acc]
    known = [a for a in accs if a is not None]
    assert known == sorted(known, reverse=True) and accs[:len(known)] == known  # missing figures last
    lat = [t["latency_ms"] for t in client.get(f"/api/studies/{FAKE}/trials",
                                               params={"sort": "latency_ms", "per_page": 1000}).json()["items"]]
    assert [v for v in lat if v is not None] == sorted(v for v in lat if v is not None) and lat[-1] is None
    failed = client.get(f"/api/studies/{FAKE}/trials", params={"status": "failed"}).json()
    assert failed["total"] > 0 and all(t["status"] == "failed" for t in failed["items"])


@pytest.mark.parametrize("params, field", [({"sort": "reason"}, "sort"), ({"order": "up"}, "order"),
                                           ({"page": 0}, "page"), ({"per_page": 5000}, "per_page"),
                                           ({"page": "x"}, "page")])
def test_trials_bad_query_says_which_field(client, params, field):
    r = client.get(f"/api/studies/{FAKE}/trials", params=params)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("invalid request: ") and f"query field '{field}'" in r.json()["detail"]


def test_trial_detail_and_download(client, seeded):
    items = client.get(f"/api/studies/{STUDY}/trials").json()["items"]
    t = client.get(f"/api/trials/{items[0]['id']}").json()
    assert t["study"] == STUDY and t["number"] == items[0]["number"] and t["has_tflite"]
    assert [d["device"] for d in t["devices"]] == ["nucleo-l4r5zi", "nrf52840"]
    layers, latency_ms = t["devices"][0]["layers"], t["devices"][0]["latency_ms"]
    assert layers and abs(sum(la["ms"] for la in layers) - latency_ms) < latency_ms
    assert all(la["activation_kb"] > 0 for la in layers)
    assert t["history"] and t["confusion"] and sum(map(sum, t["confusion"])) > 0
    r = client.get(f"/api/trials/{t['id']}/model.tflite")
    assert r.status_code == 200 and r.content[4:8] == b"TFL3"
    assert r.headers["content-disposition"] == f'attachment; filename="{STUDY}-trial-{t["number"]:04d}.tflite"'
    with make_sessionmaker(make_engine(seeded.url))() as s:
        assert r.content == service.export_model(s, STUDY, t["number"])  # the same bytes the CLI exports


def test_trial_on_every_profile(client):
    tid = client.get(f"/api/studies/{STUDY}/trials").json()["items"][0]["id"]
    rows = client.get(f"/api/trials/{tid}/profiles").json()
    devices = {r["device"] for r in rows}
    assert {d["name"] for d in client.get("/api/devices").json()} == devices
    assert next(r for r in rows if r["device"] == "host")["latency_source"] == "measured"


def test_unknown_or_invalid_trial_ids(client, seeded):
    with make_sessionmaker(make_engine(seeded.url))() as s:
        fake_id = s.scalar(select(TrialRow.id).join(StudyRow).where(StudyRow.name == FAKE).limit(1))
    assert client.get("/api/trials/999999").status_code == 404
    assert "no trial with id 999999" in client.get("/api/trials/999999").json()["detail"]
    r = client.get(f"/api/trials/{fake_id}/model.tflite")
    assert r.status_code == 404 and "has no .tflite file" in r.json()["detail"]
    for bad in ("0", "-3", "abc", str(2**63)):
        r = client.get(f"/api/trials/{bad}")
        assert r.status_code == 422 and "path field 'trial_id'" in r.json()["detail"], bad


def test_history_and_params(client):
    h = client.get(f"/api/studies/{STUDY}/history").json()
    assert [p["n_trials"] for p in h] == [1, 2, 3, 4]
    assert all(b["hypervolume"] >= a["hypervolume"] for a, b in zip(h, h[1:], strict=False))  # a front only improves
    p = client.get(f"/api/studies/{STUDY}/params").json()
    assert len(p["trial_id"]) == 4 and set(p["params"]["family"]) <= {"dscnn", "mlp"}
    assert "bits" in p["params"] and len(p["params"]["bits"]) == 4
