"""Issue 18, case 7: a study of the same name in another database never overwrites the first one's trial files
(nor files nas did not write): each study claims its folder under ``runs/`` with a marker of its identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas import service
from nas.artifacts import MARKER
from nas.study.config import StudyConfig
from nas.study.tables import make_engine, make_sessionmaker
from nas.study.worker import Worker


def _run_one_trial(url: str, runs: Path, tmp_path: Path, space: Path, seed: int, name: str = "same") -> bytes:
    """Create study ``name`` in ``url``, run its one trial with artifacts in ``runs``; its .tflite from the database."""
    cfg = StudyConfig.parse({"name": name, "dataset": "synthetic:160", "space": str(space), "n_trials": 1,
                             "devices": ["nucleo-l4r5zi"], "seed": seed, "references": False})
    sessions = make_sessionmaker(make_engine(url))
    with sessions() as s:
        service.create_study(s, url, cfg)
    Worker(url, artifacts=runs, cache_dir=tmp_path / "cache", name=f"w{seed}").run()
    with sessions() as s:
        return service.export_model(s, name, 0)


@pytest.mark.slow
def test_a_same_named_study_of_another_database_gets_its_own_folder(db_url, tmp_path, tiny_space_path):
    runs = tmp_path / "runs"
    first = _run_one_trial(f"sqlite:///{tmp_path / 'laptop.db'}", runs, tmp_path, tiny_space_path, seed=1)
    second = _run_one_trial(db_url, runs, tmp_path, tiny_space_path, seed=2)
    assert first != second  # two different models, so an overwrite would show
    assert (runs / "same" / "trial-0000" / "model.tflite").read_bytes() == first
    others = [d for d in runs.iterdir() if d.name.startswith("same@")]
    assert len(others) == 1 and (others[0] / "trial-0000" / "model.tflite").read_bytes() == second
    assert (runs / "same" / MARKER).read_text() != (others[0] / MARKER).read_text()


@pytest.mark.slow
def test_files_nas_did_not_write_are_left_alone(tmp_path, tiny_space_path):
    runs = tmp_path / "runs"
    mine = runs / "kept" / "trial-0000"
    mine.mkdir(parents=True)
    (mine / "model.tflite").write_bytes(b"the user's own model")
    written = _run_one_trial(f"sqlite:///{tmp_path / 'nas.db'}", runs, tmp_path, tiny_space_path, seed=1,
                             name="kept")
    assert (mine / "model.tflite").read_bytes() == b"the user's own model"
    (folder,) = [d for d in runs.iterdir() if d.name.startswith("kept@")]
    assert (folder / "trial-0000" / "model.tflite").read_bytes() == written
