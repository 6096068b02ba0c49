"""A worker whose database connection drops while it records a finished trial retries with backoff
and records the result once (real PostgreSQL: the connection is terminated by the server)."""

from __future__ import annotations

import logging
import threading
import time

import optuna
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from nas import service
from nas.errors import StorageError
from nas.study.config import StudyConfig
from nas.study.recovery import RetryPolicy, with_db_retry
from nas.study.sampler import Heartbeat
from nas.study.tables import StudyRow, TrialRow, make_engine, make_sessionmaker
from nas.study.worker import Worker, WorkerOptions


def _wait(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_connection_terminated_while_recording_keeps_the_result(pg_url, tmp_path, tiny_space_path, caplog):
    sessions = make_sessionmaker(make_engine(pg_url))
    cfg = StudyConfig.parse({"name": "reconnect", "dataset": "synthetic:160", "space": str(tiny_space_path),
                             "n_trials": 1})
    with sessions() as s:
        service.create_study(s, pg_url, cfg)
    options = WorkerOptions(heartbeat=Heartbeat(1, 30), retry=RetryPolicy(attempts=8, base_s=0.2, max_s=1.0),
                            linger=False)
    worker = Worker(pg_url, study_name=cfg.name, artifacts=tmp_path / "runs", cache_dir=tmp_path / "cache",
                    name="w-net", options=options)
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(worker.run()), daemon=True)
    ostudy = optuna.load_study(study_name=cfg.name, storage=pg_url)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    locker = create_engine(pg_url).connect()
    dbname = make_url(pg_url).database
    with caplog.at_level(logging.WARNING, logger="nas"):
        thread.start()
        _wait(lambda: ostudy.get_trials(states=(optuna.trial.TrialState.RUNNING,)), 120, "a running trial")
        # Hold the study row: the worker's record blocks on it once the trial is trained...
        tx = locker.begin()
        locker.execute(text("SELECT id FROM nas_studies FOR UPDATE"))
        with admin.connect() as conn:
            blocked = _wait(lambda: conn.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :d AND wait_event_type = 'Lock'"),
                {"d": dbname}).scalars().all(), 120, "the worker to block while recording")
            # ... and the server drops the worker's connection in the middle of that transaction.
            for pid in blocked:
                conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        time.sleep(0.5)
        tx.rollback()
        locker.close()
        thread.join(timeout=120)
    admin.dispose()
    assert done == [1]
    assert any("database error" in r.getMessage() and "record trial 0" in r.getMessage() for r in caplog.records)
    with sessions() as s:
        trials = s.scalars(select(TrialRow)).all()
        status = s.scalars(select(StudyRow.status)).one()
    assert [(t.number, t.status) for t in trials] == [(0, "ok")]
    assert status == "finished"
    assert ostudy.trials[0].state == optuna.trial.TrialState.COMPLETE


def test_unreachable_database_gives_up_with_a_clear_error():
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:9/nowhere")
    calls: list[int] = []

    def connect() -> None:
        calls.append(1)
        with engine.connect():
            pass

    with pytest.raises(StorageError, match="connect: the database stayed unreachable after 3 attempts"):
        with_db_retry(connect, "connect", RetryPolicy(attempts=3, base_s=0.01))
    assert len(calls) == 3
