"""Issue 18, case 3: concurrent ``POST /api/studies`` of one name give one 201 and 409s, and the study's
stored config and its Optuna study's directions always agree (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import optuna
from fastapi.testclient import TestClient
from optuna.study import StudyDirection

from nas import service
from nas.api import Settings, create_app
from nas.study.tables import make_engine, make_sessionmaker

TOKEN = "race-token-0123456789abcdef"
N = 6


def test_concurrent_creates_of_one_name_give_one_study(db_url):
    bodies = [{"name": "race", "dataset": "synthetic:160", "n_trials": 2,
               "objectives": ["accuracy", "latency_ms"] if i % 2 else ["latency_ms", "accuracy"]} for i in range(N)]
    barrier = threading.Barrier(N)
    with TestClient(create_app(Settings(db_url=db_url, api_token=TOKEN)), raise_server_exceptions=False) as c:
        def post(body: dict) -> tuple[dict, int, str]:
            barrier.wait()
            r = c.post("/api/studies", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
            return body, r.status_code, r.text

        with ThreadPoolExecutor(N) as pool:
            results = list(pool.map(post, bodies))
    assert sorted(code for _, code, _ in results) == [201] + [409] * (N - 1), results
    assert all("already exists" in text for _, code, text in results if code == 409)
    winner = next(body for body, code, _ in results if code == 201)
    with make_sessionmaker(make_engine(db_url))() as s:
        info = service.study_info(s, "race")
    assert info.status == "running" and info.config["objectives"] == winner["objectives"]
    study = optuna.load_study(study_name="race", storage=db_url)
    want = [StudyDirection.MAXIMIZE if o == "accuracy" else StudyDirection.MINIMIZE for o in winner["objectives"]]
    assert study.directions == want and study.metric_names == winner["objectives"]
