"""A study on SQLite shared by two worker processes: exact budget, no duplicates, front == Optuna's."""

import pytest
from sqlalchemy import select

from nas import service
from nas.db import ParetoPointRow, StudyRow, TrialRow, make_engine, make_sessionmaker
from nas.study import load_optuna_study
from nas.study_config import StudyConfig
from nas.workers import run_local_workers

pytestmark = pytest.mark.slow


def test_two_workers_share_one_sqlite_study(tmp_path, tiny_space_path):
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    sessions = make_sessionmaker(make_engine(url))
    cfg = StudyConfig.parse({"name": "two-workers", "dataset": "synthetic:160", "space": str(tiny_space_path),
                             "n_trials": 6, "devices": ["nucleo-l4r5zi"]})
    with sessions() as s:
        service.create_study(s, url, cfg)
    run_local_workers(url, cfg.name, 2, artifacts=tmp_path / "runs", cache_dir=tmp_path / "cache")

    with sessions() as s:
        study = s.scalars(select(StudyRow)).one()
        trials = s.scalars(select(TrialRow).where(TrialRow.study_id == study.id)).all()
        workers = {t.worker for t in trials}
        numbers = sorted(t.number for t in trials)
        stored_front = set(s.scalars(select(ParetoPointRow.number).where(
            ParetoPointRow.study_id == study.id, ParetoPointRow.device == "nucleo-l4r5zi")).all())
        info = service.study_info(s, cfg.name)
    assert study.status == "finished" and study.claimed == 6
    assert numbers == list(range(6)), numbers  # exactly the budget, none lost, none duplicated
    assert workers == {"w1", "w2"}  # both workers took trials
    assert not [t for t in trials if t.status == "failed"], [t.reason for t in trials]
    ostudy = load_optuna_study(cfg, url)
    assert len(ostudy.trials) == 6
    assert stored_front == {t.number for t in ostudy.best_trials}
    assert info.hypervolume is not None and info.hypervolume > 0
    # every trial on the front has its .tflite in the database
    with sessions() as s:
        for n in stored_front:
            assert service.export_model(s, cfg.name, n)[4:8] == b"TFL3"
