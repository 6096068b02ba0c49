"""Studies: create, list, inspect, stop and resume them; their Pareto fronts, history and exported models."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from optuna.study import StudyDirection
from pydantic import Field
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nas.errors import ConfigError, ConflictError, NotFoundError
from nas.hardware import CostReport, has_energy_model
from nas.service.bounds import check_bounds
from nas.service.datasets import prepare_dataset
from nas.status import StudyStatus, TrialStatus
from nas.study.config import ENERGY_OBJECTIVES, StudyConfig
from nas.study.records import SPLIT, TrialFigures, from_columns
from nas.study.sampler import create_optuna_study, starting_points
from nas.study.store import savings, search_effort
from nas.study.tables import ArtifactRow, FrontHistoryRow, MeasurementRow, ParetoPointRow, StudyRow, TrialRow


@dataclass(frozen=True, kw_only=True)
class StudyInfo:
    """A study as listed: its status, progress through the budget and best figures among feasible trials."""

    name: str
    status: StudyStatus
    budget: int
    claimed: int
    finished: int
    feasible: int
    failed: int
    progress: Annotated[float, Field(description="finished / budget, 0..1")]
    config: dict[str, Any]
    created_at: dt.datetime
    best: Annotated[dict[str, float | None], Field(description="best accuracy, latency and RAM among feasible trials")]
    hypervolume: float | None
    dataset_summary: dict[str, Any] | None = None
    failure_reason: str | None = None  # why a worker marked it failed (its dataset or runtime)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        return d


@dataclass(frozen=True, kw_only=True)
class FrontPoint(TrialFigures):
    """A trial on one device's Pareto front: its record, with latency, RAM and flash on that device."""

    trial_id: int
    device: str
    latency_ms: float
    ram_kb: float
    flash_kb: float
    latency_source: str
    ram_source: str
    split: Annotated[dict[str, dict[str, float]], Field(description=SPLIT)]
    energy_uj: Annotated[float | None, Field(description="energy per inference (estimated; MCU devices)")] = None
    power_mw: Annotated[float | None, Field(description="average power at inference_rate_hz (estimated)")] = None
    inference_rate_hz: float | None = None

    @classmethod
    def of(cls, t: TrialRow, m: MeasurementRow) -> FrontPoint:
        """The point of trial ``t`` with its measurement ``m`` on the front's device."""
        report = CostReport.from_dict(m.report)
        return from_columns(cls, m, t, trial_id=t.id, split=report.split(), energy_uj=report.energy_uj,
                            power_mw=report.power_mw,
                            inference_rate_hz=report.energy.inference_rate_hz if report.energy else None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _study(session: Session, name: str) -> StudyRow:
    row = session.scalars(select(StudyRow).where(StudyRow.name == name)).first()
    if row is None:
        raise NotFoundError(f"no study named '{name}'")
    return row


def create_study(session: Session, db_url: str, cfg: StudyConfig, *, owner: str = "") -> StudyInfo:
    """Validate the config against the shipped spaces, profiles and datasets, then register the study
    (status ``running``: workers pick it up).

    The service's row is inserted first (the unique name decides between concurrent creators), as
    ``created`` so no worker takes it, then the Optuna study is made and the row becomes ``running``; a
    loser, or a failure in between, leaves the winner's Optuna study untouched.

    Raises:
        ConflictError: the name is taken (also when another request creates it at the same moment).
    """
    if session.scalars(select(StudyRow.id).where(StudyRow.name == cfg.name)).first() is not None:
        raise ConflictError(f"a study named '{cfg.name}' already exists")
    cfg = cfg.with_documents()  # space and profiles validated and stored with the study
    first = cfg.profile(cfg.devices[0])
    wants_energy = [o for o in cfg.objectives if o in ENERGY_OBJECTIVES]
    wants_energy += ["max_energy_uj"] if cfg.max_energy_uj else []
    if wants_energy and not has_energy_model(first):
        raise ConfigError(f"{', '.join(wants_energy)}: the first device '{first.name}' has no energy model "
                          "(only microcontroller profiles with cost.active_mw price energy; see 'nas devices')")
    cfg = prepare_dataset(session, cfg)  # a registered name becomes its spec; the index is checked
    space = cfg.search_space()
    check_bounds(cfg.dataset, space)
    starts = starting_points(cfg, space, db_url)
    row = StudyRow(name=cfg.name, config=cfg.model_dump(), status=StudyStatus.CREATED, budget=cfg.n_trials,
                   owner=owner)
    session.add(row)
    try:
        session.commit()
    except IntegrityError as e:
        session.rollback()
        raise ConflictError(f"a study named '{cfg.name}' already exists") from e
    try:
        study = create_optuna_study(cfg, db_url, starts)
        if list(study.directions) != [StudyDirection[d.upper()] for d in cfg.directions]:
            raise ConflictError(f"the database already holds an Optuna study '{cfg.name}' with other objectives "
                                "(not made by this service): delete it with 'optuna delete-study' or pick another name")
    except BaseException:
        session.rollback()
        session.execute(delete(StudyRow).where(StudyRow.id == row.id))
        session.commit()
        raise
    session.execute(update(StudyRow).where(StudyRow.id == row.id).values(status=StudyStatus.RUNNING))
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
    finished = sum(counts.values())
    return from_columns(StudyInfo, row, finished=finished, feasible=int(feasible),
                        failed=int(counts.get(TrialStatus.FAILED, 0)),
                        progress=finished / row.budget if row.budget else 0.0,
                        best={"accuracy": best[0], "latency_ms": best[1], "ram_kb": best[2]}, hypervolume=hv)


def stop_study(session: Session, name: str) -> StudyInfo:
    """Workers stop claiming trials of a stopped study; trials under way finish and are recorded."""
    row = _study(session, name)
    if row.status == StudyStatus.RUNNING:
        session.execute(update(StudyRow).where(StudyRow.id == row.id).values(status=StudyStatus.STOPPED))
        session.commit()
    return study_info(session, name)


def resume_study(session: Session, name: str) -> StudyInfo:
    """Hand out trials again; a failed study is tried again (after its dataset was fixed)."""
    row = _study(session, name)
    if row.status in (StudyStatus.STOPPED, StudyStatus.CREATED, StudyStatus.FAILED):
        session.execute(update(StudyRow).where(StudyRow.id == row.id)
                        .values(status=StudyStatus.RUNNING, failure_reason=None))
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
    points = [FrontPoint.of(t, m) for t, m in rows]
    return sorted(points, key=lambda p: (-(p.accuracy or 0), p.latency_ms))


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


@dataclass(frozen=True)
class HistoryPoint:
    n_trials: int
    front_size: int
    hypervolume: float
    at: dt.datetime


def hypervolume_history(session: Session, name: str) -> list[HistoryPoint]:
    """Normalised hypervolume of the primary device's front after each finished trial."""
    row = _study(session, name)
    q = select(FrontHistoryRow).where(FrontHistoryRow.study_id == row.id).order_by(FrontHistoryRow.id)
    return [from_columns(HistoryPoint, h) for h in session.scalars(q).all()]


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


def study_effort(session: Session, name: str) -> dict[str, Any]:
    """Epochs, seconds inside and outside training, and the rungs of a study (``nas.study.SearchEffort``)."""
    row = _study(session, name)
    return search_effort(session, row.id, StudyConfig.parse(row.config).devices[0]).to_dict()


def study_savings(session: Session, name: str) -> dict[str, Any]:
    """Training time saved by the precheck and early stopping in study ``name`` (estimates, seconds)."""
    return savings(session, _study(session, name).id).to_dict()
