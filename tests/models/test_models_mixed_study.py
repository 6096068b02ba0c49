"""A mixed-family study on synthetic data: two worker processes, every family allowed; the trials
and the stored Pareto front are not all of one family."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from nas import service
from nas.study.config import StudyConfig
from nas.study.tables import StudyRow, TrialRow, make_engine, make_sessionmaker
from nas.study.worker import run_local_workers
from tests.conftest import FIXTURES

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)


def test_mixed_study_fronts_mix_families(tmp_path):
    space = FIXTURES / "mixed_tiny_space.yaml"
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    sessions = make_sessionmaker(make_engine(url))
    cfg = StudyConfig.parse({"name": "mixed", "dataset": "synthetic:160", "space": str(space), "n_trials": 8,
                             "precheck": False, "sampler": "random", "seed": 3,
                             "devices": ["nucleo-l4r5zi", "pi-4"]})
    with sessions() as s:
        service.create_study(s, url, cfg)
    run_local_workers(url, cfg.name, 2, artifacts=tmp_path / "runs", cache_dir=tmp_path / "cache")
    with sessions() as s:
        study_id = s.scalars(select(StudyRow.id).where(StudyRow.name == cfg.name)).one()
        trials = s.scalars(select(TrialRow).where(TrialRow.study_id == study_id)).all()
        trial_families = {t.family for t in trials}
        mcu_front = service.pareto(s, cfg.name)
        pi_front = service.pareto(s, cfg.name, device="pi-4")
        info = service.study_info(s, cfg.name)
    assert info.finished == 8 and info.failed == 0, [t.reason for t in trials]
    assert len(trial_families) >= 3, trial_families
    front_families = {p.family for p in mcu_front} | {p.family for p in pi_front}
    log.info("trial families %s; front families: mcu %s, pi %s", sorted(trial_families),
             sorted({p.family for p in mcu_front}), sorted({p.family for p in pi_front}))
    assert len(front_families) >= 2, front_families
