"""A trial's record round-trips through storage on SQLite and PostgreSQL: the rows a real worker writes read
back into their types (TrialResult, CostReport, the status enums), and every view of a trial carries the
record's fields by name, the stored frontend share of latency among them."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from nas import service
from nas.hardware import CostReport
from nas.pipeline import TrialResult
from nas.status import StudyStatus, TrialStatus
from nas.study.config import StudyConfig
from nas.study.records import TrialFigures
from nas.study.tables import ArtifactRow, MeasurementRow, StudyRow, TrialRow, make_engine, make_sessionmaker
from nas.study.worker import Worker

DEVICES = ["nucleo-l4r5zi", "nrf52840"]


@pytest.fixture
def recorded(db_url, tmp_path, tiny_space_path):
    """A finished study of two real trials (trained, exported, priced) and its sessions."""
    sessions = make_sessionmaker(make_engine(db_url))
    cfg = StudyConfig.parse({"name": "records", "dataset": "synthetic:160", "space": str(tiny_space_path),
                             "n_trials": 2, "devices": DEVICES, "seed": 3})
    with sessions() as s:
        service.create_study(s, db_url, cfg)
    Worker(db_url, study_name=cfg.name, artifacts=tmp_path / "runs", cache_dir=tmp_path / "cache", name="w1").run()
    return sessions


def test_stored_trials_read_back_into_their_types(recorded):
    with recorded() as s:
        assert s.scalars(select(StudyRow.status)).one() is StudyStatus.FINISHED
        trials = s.scalars(select(TrialRow)).all()
        assert len(trials) == 2 and all(isinstance(t.status, TrialStatus) for t in trials)
        for t in trials:
            stored = json.loads(s.scalar(select(ArtifactRow.data).where(ArtifactRow.trial_id == t.id,
                                                                       ArtifactRow.kind == "trial.json")))
            result = TrialResult.from_dict(stored)
            notes = set(stored) - {f.name for f in fields(TrialResult)}  # the worker's notes beside the result
            assert json.loads(json.dumps(result.to_dict(), default=float)) == {
                k: v for k, v in stored.items() if k not in notes}
            for m in s.scalars(select(MeasurementRow).where(MeasurementRow.trial_id == t.id)):
                report = CostReport.from_dict(m.report)
                assert report.to_dict() == m.report and report == result.costs[m.device]


def test_every_view_of_a_trial_carries_the_record(recorded):
    with recorded() as s:
        page = service.list_trials(s, "records")
        front = service.pareto(s, "records", feasible_only=False)
        for item in page.items:
            detail = service.trial_detail(s, item.id)
            for f in fields(TrialFigures):
                assert getattr(detail, f.name) == getattr(item, f.name), f.name
            primary = detail.devices[0]
            assert primary.device == DEVICES[0]
            assert item.frontend_latency_share == pytest.approx(primary.frontend_ms / primary.latency_ms)
            assert 0 < item.frontend_latency_share < 1
        for p in front:
            item = next(i for i in page.items if i.id == p.trial_id)
            assert (p.number, p.arch, p.frontend_latency_share) == (item.number, item.arch,
                                                                   item.frontend_latency_share)


def test_a_status_the_enum_does_not_know_is_refused(recorded):
    with recorded() as s:
        study_id = s.scalars(select(StudyRow.id)).one()
        s.add(TrialRow(study_id=study_id, candidate={}, details={},
                       **TrialFigures.of_failure(99, {}, "boom", "w1").columns() | {"status": "lost"}))
        with pytest.raises(StatementError, match="'lost' is not a valid TrialStatus"):
            s.flush()
