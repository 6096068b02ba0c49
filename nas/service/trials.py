"""Trials: sorted pages of a study's trials, one trial's detail with per-device figures, its ``.tflite``."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, fields
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nas.errors import ConfigError, NotFoundError
from nas.hardware import CostReport, LayerCost
from nas.service.studies import _study
from nas.status import TrialStatus
from nas.study.records import SPLIT, TrialFigures, from_columns
from nas.study.tables import ArtifactRow, MeasurementRow, StudyRow, TrialRow

TRIAL_SORT_KEYS = ("number", "accuracy", "latency_ms", "ram_kb", "flash_kb", "params", "macs", "finished_at")

SORT_ORDERS = ("asc", "desc")

_DTYPE_BYTES = {"int4": 0.5, "int8": 1, "uint8": 1, "int16": 2, "float16": 2, "int32": 4, "float32": 4,
                "int64": 8, "bool": 1}


@dataclass(frozen=True, kw_only=True)
class TrialSummary(TrialFigures):
    """One row of a study's trial table (no JSON columns: cheap to page through thousands)."""

    id: int
    finished_at: dt.datetime


@dataclass(frozen=True)
class TrialPage:
    total: int
    page: int
    per_page: int
    sort: str
    order: str
    items: list[TrialSummary]


_SUMMARY_COLUMNS = tuple(getattr(TrialRow, f.name) for f in fields(TrialSummary))


def list_trials(session: Session, name: str, *, page: int = 1, per_page: int = 50, sort: str = "number",
                order: str = "asc", status: TrialStatus | None = None, after: int | None = None) -> TrialPage:
    """One page of a study's finished trials sorted by ``sort`` (missing figures last).

    ``after``: only trials recorded after the one with that id (ids grow as trials finish), so a client that
    polls with the largest id it has seen gets only the new ones.

    Raises:
        NotFoundError: no such study. ConfigError: unknown sort key or order.
    """
    if sort not in TRIAL_SORT_KEYS:
        raise ConfigError(f"cannot sort trials by '{sort}': choose one of {', '.join(TRIAL_SORT_KEYS)}")
    if order not in SORT_ORDERS:
        raise ConfigError(f"order must be 'asc' or 'desc', not '{order}'")
    if page < 1 or not 1 <= per_page <= 1000:
        raise ConfigError("page must be >= 1 and per_page between 1 and 1000")
    row = _study(session, name)
    where = [TrialRow.study_id == row.id] + ([TrialRow.status == status] if status else [])
    if after is not None:
        where.append(TrialRow.id > after)
    total = session.scalar(select(func.count()).select_from(TrialRow).where(*where)) or 0
    col = getattr(TrialRow, sort)
    key = col.desc() if order == "desc" else col.asc()
    # Sort ids only (an index-only scan of (study_id, key)), then load the page's rows.
    ids = session.scalars(select(TrialRow.id).where(*where).order_by(col.is_(None), key, TrialRow.id)
                          .offset((page - 1) * per_page).limit(per_page)).all()
    rows = {r.id: r for r in session.execute(select(*_SUMMARY_COLUMNS).where(TrialRow.id.in_(ids))).all()}
    items = [from_columns(TrialSummary, rows[i]) for i in ids]
    return TrialPage(int(total), page, per_page, sort, order, items)


@dataclass(frozen=True)
class LayerFigures(LayerCost):
    """One operator's cost with the memory it holds: its output tensor and its kernel's scratch buffer (KB)."""

    activation_kb: float = 0.0
    scratch_kb: float = 0.0

    @classmethod
    def of(cls, layer: LayerCost) -> LayerFigures:
        return cls(**asdict(layer), activation_kb=_activation_kb(layer.shape, layer.dtype),
                   scratch_kb=layer.scratch_bytes / 1024)


@dataclass(frozen=True, kw_only=True)
class DeviceFigures(CostReport):
    """A trial's cost report on one device as the trial page shows it: with each layer's memory and the split
    of latency, RAM and flash between the audio frontend (DSP) and the network."""

    layers: tuple[LayerFigures, ...] = ()
    # CostReport.split() as a field: a response carries fields only
    split: Annotated[dict[str, dict[str, float]], Field(description=SPLIT)]  # type: ignore[assignment]

    @classmethod
    def of(cls, report: CostReport, *, per_layer: bool = True) -> DeviceFigures:
        """``report`` with its split; ``per_layer=False`` leaves out the layers and details (a short listing)."""
        figures = {f.name: getattr(report, f.name) for f in fields(CostReport)}
        return cls(**figures | {"layers": tuple(LayerFigures.of(la) for la in report.layers) if per_layer else (),
                                "details": report.details if per_layer else {}, "split": report.split()})


@dataclass(frozen=True, kw_only=True)
class TrialDetail(TrialSummary):
    """Everything the trial page shows: the record, candidate, training curve, confusion, figures per device."""

    study: str
    candidate: dict[str, Any]
    history: list[dict[str, Any]]
    confusion: list[list[int]]
    class_names: list[str]
    seconds: dict[str, float]
    has_tflite: bool
    devices: list[DeviceFigures]


def _activation_kb(shape: str, dtype: str) -> float:
    """Bytes of a layer's output tensor from its ``1x20x25x32`` shape string and dtype, in KB."""
    try:
        n = math.prod(int(d) for d in shape.split("x") if d)
    except ValueError:
        return 0.0
    return n * _DTYPE_BYTES.get(dtype, 4) / 1024


def _trial_row(session: Session, trial_id: int) -> TrialRow:
    t = session.get(TrialRow, trial_id)
    if t is None:
        raise NotFoundError(f"no trial with id {trial_id} (ids are in GET /api/studies/NAME/trials)")
    return t


def trial_detail(session: Session, trial_id: int) -> TrialDetail:
    """Everything the trial page shows: candidate, training curve, confusion, figures per device."""
    t = _trial_row(session, trial_id)
    study = session.get_one(StudyRow, t.study_id)  # the trial's foreign key: it exists
    order = {d: i for i, d in enumerate(study.config.get("devices", []))}
    ms = sorted(session.scalars(select(MeasurementRow).where(MeasurementRow.trial_id == t.id)).all(),
                key=lambda m: (order.get(m.device, len(order)), m.device))
    has = session.scalar(select(func.count()).select_from(ArtifactRow).where(
        ArtifactRow.trial_id == t.id, ArtifactRow.kind == "model.tflite")) or 0
    d = t.details or {}
    classes = list(((study.dataset_summary or {}).get("class_counts") or {}).keys())
    return from_columns(TrialDetail, t, study=study.name, history=list(d.get("history", [])),
                        confusion=list(d.get("confusion", [])), class_names=classes,
                        seconds=dict(d.get("seconds", {})), has_tflite=bool(has),
                        devices=[DeviceFigures.of(CostReport.from_dict(m.report)) for m in ms])


def trial_model(session: Session, trial_id: int) -> tuple[str, bytes]:
    """``(file name, bytes)`` of a trial's ``.tflite``, looked up by integer id."""
    t = _trial_row(session, trial_id)
    data = session.scalar(select(ArtifactRow.data).where(ArtifactRow.trial_id == t.id,
                                                         ArtifactRow.kind == "model.tflite"))
    if data is None:
        raise NotFoundError(f"trial {trial_id} has no .tflite file ({t.status}: {t.reason or 'not exported'})")
    study = session.scalar(select(StudyRow.name).where(StudyRow.id == t.study_id))
    return f"{study}-trial-{t.number:04d}.tflite", data


def price_trial_everywhere(session: Session, trial_id: int) -> list[DeviceFigures]:
    """Price a trial's ``.tflite`` on every shipped hardware profile (not only the study's devices)."""
    from nas.candidate import Candidate
    from nas.hardware import list_profiles, price_all

    _, data = trial_model(session, trial_id)
    t = _trial_row(session, trial_id)
    frontend = Candidate.from_dict(t.candidate).frontend
    config = session.scalar(select(StudyRow.config).where(StudyRow.id == t.study_id)) or {}
    rate = float(config.get("inference_rate_hz", 1.0))  # average power at the study's rate
    return [DeviceFigures.of(r, per_layer=False)
            for r in price_all(data, list_profiles(), frontend=frontend, inference_rate_hz=rate)]
