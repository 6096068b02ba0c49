"""Trials: sorted pages of a study's trials, one trial's detail with per-device figures, its ``.tflite``."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nas.db import ArtifactRow, MeasurementRow, StudyRow, TrialRow
from nas.errors import ConfigError, NotFoundError
from nas.hardware.report import split_of_stored
from nas.service.studies import _study

TRIAL_SORT_KEYS = ("number", "accuracy", "latency_ms", "ram_kb", "flash_kb", "params", "macs", "finished_at")

SORT_ORDERS = ("asc", "desc")

_DTYPE_BYTES = {"int4": 0.5, "int8": 1, "uint8": 1, "int16": 2, "float16": 2, "int32": 4, "float32": 4,
                "int64": 8, "bool": 1}


@dataclass(frozen=True)
class TrialSummary:
    """One row of a study's trial table (no JSON columns: cheap to page through thousands)."""

    id: int
    number: int
    status: str
    reason: str | None
    family: str
    arch: str
    bits: int
    prune_ratio: float
    accuracy: float | None
    test_accuracy: float | None
    latency_ms: float | None
    ram_kb: float | None
    flash_kb: float | None
    params: int | None
    macs: int | None
    feasible: bool
    finished_at: dt.datetime


@dataclass(frozen=True)
class TrialPage:
    total: int
    page: int
    per_page: int
    sort: str
    order: str
    items: list[TrialSummary]

_SUMMARY_COLUMNS = (TrialRow.id, TrialRow.number, TrialRow.status, TrialRow.reason, TrialRow.family,
                    TrialRow.arch, TrialRow.bits, TrialRow.prune_ratio, TrialRow.accuracy, TrialRow.test_accuracy,
                    TrialRow.latency_ms, TrialRow.ram_kb, TrialRow.flash_kb, TrialRow.params, TrialRow.macs,
                    TrialRow.feasible, TrialRow.finished_at)


def list_trials(session: Session, name: str, *, page: int = 1, per_page: int = 50, sort: str = "number",
                order: str = "asc", status: str | None = None, after: int | None = None) -> TrialPage:
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
    items = [TrialSummary(*tuple(rows[i])) for i in ids]
    return TrialPage(int(total), page, per_page, sort, order, items)


@dataclass(frozen=True)
class DeviceFigures:
    """A trial's cost on one device; ``layers`` carry per-op latency and memory from the cost model."""

    device: str
    deployable: bool
    latency_ms: float
    ram_kb: float
    flash_kb: float
    arena_kb: float
    latency_source: str
    ram_source: str
    flash_source: str
    reason: str | None
    layers: list[dict[str, Any]]
    details: dict[str, Any]
    split: dict[str, dict[str, float]] = field(default_factory=dict)  # frontend (DSP) / network / total
    energy: dict[str, Any] | None = None  # EnergyEstimate as stored in the measurement's report


@dataclass(frozen=True)
class TrialDetail:
    id: int
    study: str
    number: int
    status: str
    reason: str | None
    candidate: dict[str, Any]
    family: str
    arch: str
    frontend: str
    bits: int
    prune_ratio: float
    accuracy: float | None
    test_accuracy: float | None
    float_accuracy: float | None
    params: int | None
    macs: int | None
    tflite_bytes: int | None
    feasible: bool
    worker: str
    finished_at: dt.datetime
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


def _device_figures(m: MeasurementRow) -> DeviceFigures:
    rep = m.report or {}
    layers = [{**la, "activation_kb": _activation_kb(str(la.get("shape", "")), str(la.get("dtype", ""))),
               "scratch_kb": la.get("scratch_bytes", 0) / 1024} for la in rep.get("layers", [])]
    return DeviceFigures(m.device, m.deployable, m.latency_ms, m.ram_kb, m.flash_kb,
                         float(rep.get("arena_kb", 0.0)), m.latency_source, m.ram_source,
                         str(rep.get("flash_source", "estimated")), rep.get("reason"), layers,
                         dict(rep.get("details", {})), split_of_stored(rep) if rep else {}, rep.get("energy"))


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
    return TrialDetail(t.id, study.name, t.number, t.status, t.reason, t.candidate, t.family, t.arch, t.frontend,
                       t.bits, t.prune_ratio, t.accuracy, t.test_accuracy, t.float_accuracy, t.params, t.macs,
                       t.tflite_bytes, t.feasible, t.worker, t.finished_at, list(d.get("history", [])),
                       list(d.get("confusion", [])), classes, dict(d.get("seconds", {})), bool(has),
                       [_device_figures(m) for m in ms])


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
    out = []
    for r in price_all(data, list_profiles(), frontend=frontend, inference_rate_hz=rate):
        out.append(DeviceFigures(r.device, r.deployable, r.latency_ms, r.ram_kb, r.flash_kb, r.arena_kb,
                                 r.latency_source, r.ram_source, r.flash_source, r.reason, [], {}, r.split(),
                                 asdict(r.energy) if r.energy else None))
    return out
