"""Issue 18, case 2: SIGTERM (docker stop, systemctl stop) to ``nas worker`` or to ``nas serve --workers N``:
no more trials are claimed, the trial under way finishes and is recorded (never left RUNNING, never run
twice), the worker exits 0, and ``nas serve`` takes its workers down with it (no orphans)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import select

from nas import service
from nas.api.supervisor import WORKER_MAIN
from nas.study.config import StudyConfig
from nas.study.tables import StudyRow, TrialRow, make_engine, make_sessionmaker

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "NAS_API_TOKEN": "signal-test-token-0123456789",
       "LITERT_TORCH_SHOW_PROGRESS": "n"}


def _study(url: str, tiny_space_path: Path) -> None:
    cfg = StudyConfig.parse({"name": "sig", "dataset": "synthetic:160", "space": str(tiny_space_path),
                             "n_trials": 3, "devices": ["nucleo-l4r5zi"], "references": False})
    with make_sessionmaker(make_engine(url))() as s:
        service.create_study(s, url, cfg)


def _trial_under_way(url: str, proc: subprocess.Popen, timeout: float = 240) -> FrozenTrial:
    """The first trial a worker has started (its pid recorded), while ``proc`` still runs."""
    study = optuna.load_study(study_name="sig", storage=url)
    deadline = time.monotonic() + timeout
    while True:
        running = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if "pid" in t.user_attrs]
        if running:
            return running[0]
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "no trial started"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _check_recorded_once(url: str, trial: FrozenTrial) -> None:
    """The interrupted trial is recorded and told (not RUNNING), and no later trial was claimed."""
    with make_sessionmaker(make_engine(url))() as s:
        numbers = s.scalars(select(TrialRow.number)).all()
        row = s.scalars(select(StudyRow)).one()
    assert list(numbers) == [trial.number] and (row.status, row.claimed) == ("running", 1)
    states = [t.state for t in optuna.load_study(study_name="sig", storage=url).get_trials(deepcopy=False)]
    assert TrialState.RUNNING not in states and len(states) == 1, states


@pytest.mark.slow
def test_sigterm_to_nas_worker_finishes_the_trial_under_way_and_exits_0(db_url, tmp_path, tiny_space_path):
    _study(db_url, tiny_space_path)
    proc = subprocess.Popen([sys.executable, "-c", WORKER_MAIN, "worker", "--db", db_url, "--artifacts",
                             str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"), "--heartbeat", "1"],
                            env=ENV, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        trial = _trial_under_way(db_url, proc)
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=240)[0]
    finally:
        proc.kill()
    assert proc.returncode == 0 and "worker done: 1 trial(s)" in out, out
    _check_recorded_once(db_url, trial)


@pytest.mark.slow
def test_sigterm_to_nas_serve_stops_its_workers(db_url, tmp_path, tiny_space_path):
    _study(db_url, tiny_space_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = subprocess.Popen([sys.executable, "-c", WORKER_MAIN, "serve", "--db", db_url, "--workers", "1",
                              "--poll", "0.5", "--port", str(port), "--artifacts", str(tmp_path / "runs")],
                             env=ENV, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        trial = _trial_under_way(db_url, serve)
        worker_pid = trial.user_attrs["pid"]
        serve.send_signal(signal.SIGTERM)
        out = serve.communicate(timeout=240)[0]
    finally:
        serve.kill()
    assert serve.returncode == 0, out
    assert not _alive(worker_pid), "the worker outlived nas serve"
    _check_recorded_once(db_url, trial)
