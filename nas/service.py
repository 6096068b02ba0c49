"""Service functions: what the CLI commands and the REST routes both call.

Each function takes a session factory (or database URL) and validated input, and returns plain
dataclasses; nothing here prints or knows about HTTP.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from nas.data import get_source
from nas.db import ArtifactRow, FrontHistoryRow, MeasurementRow, ParetoPointRow, StudyRow, TrialRow
from nas.errors import ConfigError, NotFoundError
from nas.hardware import load_profile
from nas.space import load_space
from nas.study import create_optuna_study, savings
from nas.study_config import StudyConfig

TRIAL_SORT_KEYS = ("number", "accuracy", "latency_ms", "ram_kb", "flash_kb", "params", "macs", "finished_at")


@dataclass(frozen=True)
class StudyInfo:
    name: str
    status: str
    budget: int
    claimed: int
    finished: int
    feasible: int
    failed: int
    config: dict[str, Any]
    created_at: dt.datetime
    best: dict[str, float | None]
    hypervolume: float | None
    dataset_summary: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        return d


@dataclass(frozen=True)
class FrontPoint:
    number: int
    trial_id: int
    family: str
    arch: str
    frontend: str
    bits: int
    prune_ratio: float
    accuracy: float | None
    test_accuracy: float | None
    latency_ms: float
    ram_kb: float
    flash_kb: float
    latency_source: str
    ram_source: str
    params: int | None
    macs: int | None
    device: str
    feasible: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _study(session: Session, name: str) -> StudyRow:
    row = session.scalars(select(StudyRow).where(StudyRow.name == name)).first()
    if row is None:
        raise NotFoundError(f"no study named '{name}'")
    return row


def create_study(session: Session, db_url: str, cfg: StudyConfig, *, owner: str = "") -> StudyInfo:
    """Validate the config against the shipped spaces, profiles and datasets, then register the study
    (status ``running``: workers pick it up)."""
    if session.scalars(select(StudyRow.id).where(StudyRow.name == cfg.name)).first() is not None:
        raise ConfigError(f"a study named '{cfg.name}' already exists")
    load_space(cfg.space)
    for d in cfg.devices:
        load_profile(d)
    get_source(cfg.dataset)  # the name and its options; the data is read by the workers
    create_optuna_study(cfg, db_url)
    session.add(StudyRow(name=cfg.name, config=cfg.model_dump(), status="running", budget=cfg.n_trials,
                         owner=owner))
    session.commit()
    return study_info(session, cfg.name)


def list_studies(session: Session) -> list[StudyInfo]:
    names = session.scalars(select(StudyRow.name).order_by(StudyRow.created_at.desc())).all()
    return [study_info(session, n) for n in names]


def study_info(session: Session, name: str) -> StudyInfo:
    row = _study(session, name)
    counts = dict(session.execute(select(TrialRow.status, func.count()).where(TrialRow.study_id == row.id)
                                  .group_by(TrialRow.status)).all())
    feasible = session.scalar(select(func.count()).where(TrialRow.study_id == row.id, TrialRow.feasible)) or 0
    best = session.execute(select(func.max(TrialRow.accuracy), func.min(TrialRow.latency_ms),
                                  func.min(TrialRow.ram_kb)).where(TrialRow.study_id == row.id,
                                                                   TrialRow.feasible)).one()
    hv = session.scalar(select(FrontHistoryRow.hypervolume).where(FrontHistoryRow.study_id == row.id)
                        .order_by(FrontHistoryRow.id.desc()).limit(1))
    return StudyInfo(row.name, row.status, row.budget, row.claimed, sum(counts.values()), int(feasible),
                     int(counts.get("failed", 0)), row.config, row.created_at,
                     {"accuracy": best[0], "latency_ms": best[1], "ram_kb": best[2]}, hv, row.dataset_summary)


def stop_study(session: Session, name: str) -> StudyInfo:
    """Workers stop claiming trials of a stopped study; trials under way finish and are recorded."""
    row = _study(session, name)
    if row.status == "running":
        session.execute(update(StudyRow).where(StudyRow.id == row.id).values(status="stopped"))
        session.commit()
    return study_info(session, name)


def resume_study(session: Session, name: str) -> StudyInfo:
    row = _study(session, name)
    if row.status in ("stopped", "created"):
        session.execute(update(StudyRow).where(StudyRow.id == row.id).values(status="running"))
        session.commit()
    return study_info(session, name)


def pareto(session: Session, name: str, *, device: str | None = None, feasible_only: bool = True
           ) -> list[FrontPoint]:
    """The stored Pareto front on ``device`` (default: the study's first), best accuracy first.

    With ``feasible_only=False`` the infeasible trials are added, so a plot can show both."""
    row = _study(session, name)
    devices = row.config["devices"]
    device = device or devices[0]
    if device not in devices:
        raise NotFoundError(f"study '{name}' has no device '{device}': it has {devices}")
    q = (select(TrialRow, MeasurementRow).join(MeasurementRow, MeasurementRow.trial_id == TrialRow.id)
         .where(MeasurementRow.device == device))
    on_front = q.join(ParetoPointRow, (ParetoPointRow.trial_id == TrialRow.id) & (ParetoPointRow.device == device)
                      ).where(ParetoPointRow.study_id == row.id)
    rows = list(session.execute(on_front).all())
    if not feasible_only:
        rows += session.execute(q.where(TrialRow.study_id == row.id, TrialRow.feasible.is_(False))).all()
    points = [_point(t, m) for t, m in rows]
    return sorted(points, key=lambda p: (-(p.accuracy or 0), p.latency_ms))


def _point(t: TrialRow, m: MeasurementRow) -> FrontPoint:
    return FrontPoint(t.number, t.id, t.family, t.arch, t.frontend, t.bits, t.prune_ratio, t.accuracy,
                      t.test_accuracy, m.latency_ms, m.ram_kb, m.flash_kb, m.latency_source, m.ram_source,
                      t.params, t.macs, m.device, t.feasible)


def export_model(session: Session, name: str, number: int) -> bytes:
    """The ``.tflite`` file of trial ``number`` of study ``name``."""
    row = _study(session, name)
    trial = session.scalars(select(TrialRow).where(TrialRow.study_id == row.id, TrialRow.number == number)).first()
    if trial is None:
        raise NotFoundError(f"study '{name}' has no finished trial {number}")
    data = session.scalar(select(ArtifactRow.data).where(ArtifactRow.trial_id == trial.id,
                                                         ArtifactRow.kind == "model.tflite"))
    if data is None:
        raise NotFoundError(f"trial {number} of '{name}' has no .tflite file ({trial.status}: {trial.reason})")
    return data


# --- Read/write functions of the REST API and dashboard (issue 8) --------------------------------
# Kept at the end of the module so they merge cleanly with the study/worker functions above.

import hashlib  # noqa: E402
import math  # noqa: E402
import secrets  # noqa: E402

from nas.db import ApiTokenRow  # noqa: E402

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
                order: str = "asc", status: str | None = None) -> TrialPage:
    """One page of a study's finished trials sorted by ``sort`` (missing figures last).

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
    total = session.scalar(select(func.count()).select_from(TrialRow).where(*where)) or 0
    col = getattr(TrialRow, sort)
    key = col.desc() if order == "desc" else col.asc()
    # Sort ids only (an index-only scan of (study_id, key)), then load the page's rows.
    ids = session.scalars(select(TrialRow.id).where(*where).order_by(col.is_(None), key, TrialRow.id)
                          .offset((page - 1) * per_page).limit(per_page)).all()
    rows = {r.id: r for r in session.execute(select(*_SUMMARY_COLUMNS).where(TrialRow.id.in_(ids))).all()}
    items = [TrialSummary(*rows[i]) for i in ids]
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
                         dict(rep.get("details", {})))


def _trial_row(session: Session, trial_id: int) -> TrialRow:
    t = session.get(TrialRow, trial_id)
    if t is None:
        raise NotFoundError(f"no trial with id {trial_id} (ids are in GET /api/studies/NAME/trials)")
    return t


def trial_detail(session: Session, trial_id: int) -> TrialDetail:
    """Everything the trial page shows: candidate, training curve, confusion, figures per device."""
    t = _trial_row(session, trial_id)
    study = session.get(StudyRow, t.study_id)
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
    out = []
    for r in price_all(data, list_profiles(), frontend=frontend):
        out.append(DeviceFigures(r.device, r.deployable, r.latency_ms, r.ram_kb, r.flash_kb, r.arena_kb,
                                 r.latency_source, r.ram_source, r.flash_source, r.reason, [], {}))
    return out


@dataclass(frozen=True)
class HistoryPoint:
    n_trials: int
    front_size: int
    hypervolume: float
    at: dt.datetime


def hypervolume_history(session: Session, name: str) -> list[HistoryPoint]:
    """Normalised hypervolume of the primary device's front after each finished trial."""
    row = _study(session, name)
    q = (select(FrontHistoryRow.n_trials, FrontHistoryRow.front_size, FrontHistoryRow.hypervolume,
                FrontHistoryRow.at).where(FrontHistoryRow.study_id == row.id).order_by(FrontHistoryRow.id))
    return [HistoryPoint(*r) for r in session.execute(q).all()]


def sampled_params(session: Session, name: str, *, limit: int = 20_000) -> dict[str, Any]:
    """The sampled parameters of a study's trials as columns (for a parallel-coordinates plot).

    Returns ``{"trial_id": [...], "accuracy": [...], "feasible": [...], "params": {name: [...]}}``; a
    parameter a trial did not sample (another family's) is None there.
    """
    row = _study(session, name)
    q = (select(TrialRow.id, TrialRow.accuracy, TrialRow.feasible, TrialRow.candidate)
         .where(TrialRow.study_id == row.id).order_by(TrialRow.number).limit(limit))
    rows = session.execute(q).all()
    flat = [_flatten_candidate(c) for _, _, _, c in rows]
    keys = sorted({k for f in flat for k in f})
    return {"trial_id": [r[0] for r in rows], "accuracy": [r[1] for r in rows],
            "feasible": [bool(r[2]) for r in rows], "params": {k: [f.get(k) for f in flat] for k in keys}}


def study_config(session: Session, name: str) -> dict[str, Any]:
    """The stored config of study ``name`` (cheaper than :func:`study_info`)."""
    return dict(_study(session, name).config)


def _flatten_candidate(c: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    arch = dict(c.get("arch", {}))
    family = arch.pop("family", "?")
    out["family"] = family
    for k, v in arch.items():
        out[f"{family}.{k}"] = v
    for k, v in (c.get("frontend") or {}).items():
        out[f"frontend.{k}"] = v
    for k in ("prune_ratio", "bits"):
        if k in c:
            out[k] = c[k]
    return {k: v for k, v in out.items() if isinstance(v, (int, float, str, bool)) or v is None}


def list_devices() -> list[dict[str, Any]]:
    """The shipped hardware profiles as plain dicts."""
    from nas.hardware import list_profiles

    return [{"name": p.name, "kind": p.kind, "core": p.core, "clock_mhz": p.clock_mhz, "sram_kb": p.sram_kb,
             "flash_kb": p.flash_kb, "runtime": p.runtime, "kernels": p.kernels,
             "kernel_variant": p.kernel_variant, "measured": bool(p.agent_url) or p.kind == "host",
             "description": p.description, "source": p.source} for p in list_profiles()]


def list_space_infos() -> list[dict[str, Any]]:
    """The shipped search spaces: name, description, families and their parameters, size."""
    from nas.space import list_spaces

    out = []
    for sp in list_spaces():
        size = sp.size()
        out.append({"name": sp.name, "description": sp.description, "families": list(sp.families),
                    "size": None if math.isinf(size) else int(size), "lines": sp.lines()})
    return out


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(session: Session, name: str) -> str:
    """Create a named write token and return it (only its hash is stored: it is shown once)."""
    if session.scalar(select(ApiTokenRow.id).where(ApiTokenRow.name == name)) is not None:
        raise ConfigError(f"a token named '{name}' already exists: revoke it first (nas token revoke {name})")
    token = "nas_" + secrets.token_urlsafe(32)
    session.add(ApiTokenRow(name=name, token_sha256=_token_hash(token)))
    session.commit()
    return token


def revoke_api_token(session: Session, name: str) -> None:
    row = session.scalars(select(ApiTokenRow).where(ApiTokenRow.name == name)).first()
    if row is None:
        raise NotFoundError(f"no API token named '{name}'")
    session.delete(row)
    session.commit()


def list_api_tokens(session: Session) -> list[tuple[str, dt.datetime]]:
    return [tuple(r) for r in session.execute(select(ApiTokenRow.name, ApiTokenRow.created_at)
                                              .order_by(ApiTokenRow.name)).all()]


def api_token_owner(session: Session, token: str) -> str | None:
    """The name of the stored token equal to ``token``, or None."""
    return session.scalar(select(ApiTokenRow.name).where(ApiTokenRow.token_sha256 == _token_hash(token)))
def study_savings(session: Session, name: str) -> dict[str, Any]:
    """Training time saved by the precheck and early stopping in study ``name`` (estimates, seconds)."""
    return savings(session, _study(session, name).id).to_dict()
