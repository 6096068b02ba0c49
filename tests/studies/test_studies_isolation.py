"""Issue 18, case 1: a study whose dataset cannot be loaded is marked failed with the reason, and the worker
goes on with the other studies (SQLite and PostgreSQL); ``nas study run`` exits non-zero with that reason,
``nas serve --workers`` does not restart its worker in a loop; creation refuses what it can check early."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nas import service
from nas.api.supervisor import WorkerSupervisor
from nas.cli import main
from nas.errors import NasError
from nas.study.config import StudyConfig
from nas.study.tables import make_engine, make_sessionmaker
from nas.study.worker import Worker


def broken_folder(root: Path) -> Path:
    """Class ``good`` of real clips, class ``bad`` of files that only look like audio: the index (file
    names) passes the creation check, loading finds no readable clip of ``bad``."""
    for label in ("good", "bad"):
        (root / label).mkdir(parents=True)
        for i in range(10):
            path = root / label / f"{i}.wav"
            if label == "good":
                sf.write(path, np.random.default_rng(i).normal(0, 0.1, 8000).astype(np.float32), 16000)
            else:
                path.write_bytes(b"not audio at all" * 10)
    return root


def _create(url: str, name: str, dataset: str, space: Path, n_trials: int) -> None:
    cfg = StudyConfig.parse({"name": name, "dataset": dataset, "space": str(space), "n_trials": n_trials,
                             "devices": ["nucleo-l4r5zi"]})
    with make_sessionmaker(make_engine(url))() as s:
        service.create_study(s, url, cfg)


def _info(url: str, name: str) -> service.StudyInfo:
    with make_sessionmaker(make_engine(url))() as s:
        return service.study_info(s, name)


@pytest.mark.slow
def test_a_broken_study_fails_alone_and_the_worker_runs_the_others(db_url, tmp_path, tiny_space_path):
    _create(db_url, "broken", f"folder:{broken_folder(tmp_path / 'data')}", tiny_space_path, 2)
    _create(db_url, "healthy", "synthetic:160", tiny_space_path, 1)  # created after: claimed second
    n = Worker(db_url, artifacts=tmp_path / "runs", cache_dir=tmp_path / "cache", name="w1").run()
    broken, healthy = _info(db_url, "broken"), _info(db_url, "healthy")
    assert n == 1 and (healthy.status, healthy.finished) == ("finished", 1)
    assert broken.status == "failed" and broken.finished == 0 and broken.claimed == 0
    assert broken.failure_reason and "bad" in broken.failure_reason and "\n" not in broken.failure_reason


@pytest.mark.slow
def test_study_run_exits_non_zero_with_the_reason_and_serve_does_not_restart_loop(tmp_path, tiny_space_path,
                                                                                   capsys):
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    _create(url, "broken", f"folder:{broken_folder(tmp_path / 'data')}", tiny_space_path, 2)
    assert main(["study", "run", "broken", "--db", url, "--artifacts", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: study broken failed: ") and "bad" in err and len(err.splitlines()) == 1
    with make_sessionmaker(make_engine(url))() as s:
        service.resume_study(s, "broken")  # running again: the supervisor starts one worker, which fails it
    sup = WorkerSupervisor(url, 1, artifacts=tmp_path / "runs", poll_s=0.2)
    sup.start()
    try:
        deadline = time.monotonic() + 120
        while _info(url, "broken").status != "failed":
            assert time.monotonic() < deadline, "the supervised worker did not mark the study failed"
            time.sleep(0.5)
        time.sleep(3)  # many polls later: no worker was started again
        assert sup.started == 1
    finally:
        sup.stop()


@pytest.mark.parametrize("layout", ["folder", "fsdd"])
def test_creation_refuses_an_empty_dataset_folder(tmp_path, tiny_space_path, layout):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NasError):
        _create(f"sqlite:///{tmp_path / 'nas.db'}", "empty", f"{layout}:{tmp_path / 'empty'}", tiny_space_path, 1)
