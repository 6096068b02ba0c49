"""Two worker processes share one study on SQLite and on PostgreSQL; one is killed with SIGKILL
mid-trial. The study still records exactly its budget, no trial twice, the lost trial is re-run
with the same parameters, and the stored front equals Optuna's ``best_trials``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from sqlalchemy import select

from nas import service
from nas.study.config import StudyConfig
from nas.study.tables import ParetoPointRow, StudyRow, TrialRow, make_engine, make_sessionmaker

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
N_TRIALS = 5


def _start_worker(url: str, study: str, name: str, cwd: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "import sys; from nas.cli import main; sys.exit(main(sys.argv[1:]))",
           "worker", "--db", url, "--study", study, "--name", name, "--threads-split", "2",
           "--heartbeat", "1", "--grace", "3"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_one_and_finish(procs: dict[str, subprocess.Popen], pid: int) -> None:
    """SIGKILL the worker process ``pid`` and wait for the other one to end the study cleanly."""
    os.kill(pid, signal.SIGKILL)
    survivor = next(p for p in procs.values() if p.pid != pid)
    _, err = survivor.communicate(timeout=240)
    assert survivor.returncode == 0, err.decode()[-3000:]


def stop_all(procs: dict[str, subprocess.Popen]) -> None:
    for p in procs.values():
        if p.poll() is None:
            p.kill()
            p.wait()


def _victim(ostudy: optuna.Study, sessions, study_id: int) -> optuna.trial.FrozenTrial | None:
    """A running trial of a worker that has already recorded one (so both workers record trials)."""
    with sessions() as s:
        recorded = s.execute(select(TrialRow.worker, TrialRow.number).where(TrialRow.study_id == study_id)).all()
    busy = {w for w, _ in recorded}
    numbers = {n for _, n in recorded}
    for t in ostudy.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
        if t.user_attrs.get("worker") in busy and "pid" in t.user_attrs and t.number not in numbers:
            return t
    return None


def test_two_workers_one_killed_budget_stays_exact(db_url, tmp_path, tiny_space_path):
    sessions = make_sessionmaker(make_engine(db_url))
    cfg = StudyConfig.parse({"name": "killed", "dataset": "synthetic:160", "space": str(tiny_space_path),
                             "n_trials": N_TRIALS, "devices": ["nucleo-l4r5zi"]})
    with sessions() as s:
        service.create_study(s, db_url, cfg)
        study_id = s.scalars(select(StudyRow.id)).one()
    ostudy = optuna.load_study(study_name=cfg.name, storage=db_url)
    procs = {name: _start_worker(db_url, cfg.name, name, tmp_path) for name in ("w1", "w2")}
    try:
        deadline, victim = time.monotonic() + 240, None
        while victim is None and time.monotonic() < deadline:
            victim = _victim(ostudy, sessions, study_id)
            time.sleep(0.2)
        assert victim is not None, "no worker had a trial under way after recording one"
        kill_one_and_finish(procs, victim.user_attrs["pid"])
    finally:
        stop_all(procs)

    with sessions() as s:
        study = s.get(StudyRow, study_id)
        trials = s.scalars(select(TrialRow).where(TrialRow.study_id == study_id)).all()
        front = set(s.scalars(select(ParetoPointRow.number).where(
            ParetoPointRow.study_id == study_id, ParetoPointRow.device == "nucleo-l4r5zi")).all())
    numbers = [t.number for t in trials]
    assert study.status == "finished"
    assert len(trials) == N_TRIALS and len(set(numbers)) == N_TRIALS  # exact budget, no duplicate
    assert victim.number not in numbers  # the lost run is not a result ...
    retries = [t for t in trials if t.details.get("retry_of") == victim.number]
    assert len(retries) == 1, [t.details.get("retry_of") for t in trials]  # ... its re-run is
    assert retries[0].candidate == victim.user_attrs["candidate"]  # with the same parameters
    assert {t.worker for t in trials} == {"w1", "w2"}
    assert not [t for t in trials if t.status == "failed"], [t.reason for t in trials]
    ostudy = optuna.load_study(study_name=cfg.name, storage=db_url)
    assert ostudy.trials[victim.number].state == optuna.trial.TrialState.FAIL
    assert len(ostudy.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == N_TRIALS
    assert front == {t.number for t in ostudy.best_trials}
    with sessions() as s:
        for n in front:
            assert service.export_model(s, cfg.name, n)[4:8] == b"TFL3"
