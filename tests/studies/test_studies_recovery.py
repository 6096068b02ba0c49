"""Recovery paths of a worker, on SQLite and PostgreSQL: a lost trial whose retries are spent is
recorded failed (its slot consumed), and a slot claimed by a worker that died before starting its trial
is given back. The "dead worker" here is real state in the real storage, left as a killed process leaves it."""

from __future__ import annotations

import optuna
from sqlalchemy import select, update

from nas import service
from nas.study.config import StudyConfig
from nas.study.optuna_private import trial_id
from nas.study.recovery import RETRIES_ATTR, RETRY_OF_ATTR
from nas.study.sampler import Heartbeat, optuna_storage
from nas.study.tables import StudyRow, TrialRow, make_engine, make_sessionmaker
from nas.study.worker import Worker, WorkerOptions

FAST = WorkerOptions(heartbeat=Heartbeat(1, 2), max_retries=1)


def _study(url: str, space: str, n: int):
    sessions = make_sessionmaker(make_engine(url))
    cfg = StudyConfig.parse({"name": "lost", "dataset": "synthetic:160", "space": space, "n_trials": n})
    with sessions() as s:
        service.create_study(s, url, cfg)
    return sessions, cfg


def test_lost_trial_after_its_retries_is_recorded_failed(db_url, tmp_path, tiny_space_path):
    sessions, cfg = _study(db_url, str(tiny_space_path), 1)
    with sessions() as s:  # a worker claimed the only slot, started a re-run, beat once and died
        s.execute(update(StudyRow).values(claimed=1))
        s.commit()
    storage = optuna_storage(db_url, Heartbeat(1, 2))
    dead = optuna.load_study(study_name=cfg.name, storage=storage).ask()
    storage.record_heartbeat(trial_id(dead))
    for k, v in {RETRIES_ATTR: 1, RETRY_OF_ATTR: 0, "worker": "gone", "candidate": {"bits": 8}}.items():
        dead.set_user_attr(k, v)

    n = Worker(db_url, study_name=cfg.name, artifacts=tmp_path / "runs", cache_dir=tmp_path / "cache",
               name="rescuer", options=FAST).run()

    assert n == 0
    with sessions() as s:
        trials = s.scalars(select(TrialRow)).all()
        study = s.scalars(select(StudyRow)).one()
    assert [(t.number, t.status) for t in trials] == [(dead.number, "failed")]
    assert "lost with worker gone" in trials[0].reason and trials[0].details == {"retry_of": 0}
    assert (study.status, study.claimed) == ("finished", 1)


def test_slot_claimed_by_a_worker_that_died_before_its_trial_is_given_back(db_url, tmp_path, tiny_space_path):
    sessions, cfg = _study(db_url, str(tiny_space_path), 1)
    with sessions() as s:  # claimed, then killed before asking Optuna for a trial
        s.execute(update(StudyRow).values(claimed=1))
        s.commit()

    n = Worker(db_url, study_name=cfg.name, artifacts=tmp_path / "runs", cache_dir=tmp_path / "cache",
               name="rescuer", options=FAST).run()

    assert n == 1
    with sessions() as s:
        trials = s.scalars(select(TrialRow)).all()
        study = s.scalars(select(StudyRow)).one()
    assert [t.status for t in trials] == ["ok"]
    assert (study.status, study.claimed) == ("finished", 1)
