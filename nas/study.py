"""Optuna studies and the service's record of them.

Objectives are taken on the first device of the study; hard constraints (every device's RAM and
flash budget, deployability, an optional latency deadline and minimum accuracy) go to Optuna as
constraint values, so infeasible trials never enter the feasible front. Each finished trial is
recorded in the service tables with its per-device figures and artifacts, and the Pareto front and
its hypervolume history are updated in the same transaction.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.storages import RDBStorage
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from nas.db import (
    ArtifactRow,
    CostCacheRow,
    FrontHistoryRow,
    MeasurementRow,
    ParetoPointRow,
    RungRow,
    StudyRow,
    TrialRow,
    engine_kwargs,
    utcnow,
)
from nas.errors import ConfigError, NotFoundError
from nas.fidelity import RungResult, promotable
from nas.front import dominates, hypervolume
from nas.hardware import CostReport, HardwareProfile
from nas.pipeline import TrialResult, training_epochs
from nas.records import TrialFigures
from nas.space import SearchSpace, StartingPoint
from nas.status import StudyStatus, TrialStatus
from nas.study_config import ENERGY_OBJECTIVES, OBJECTIVES, StudyConfig

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 20
HEARTBEAT_GRACE_S = 60

StaleCallback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


@dataclass(frozen=True)
class Heartbeat:
    """How often a worker proves it is alive, and how long silence means it died (seconds).

    Short values in tests (1 s / 3 s); on a cluster keep the grace well above a garbage-collection
    pause or a slow network round trip."""

    interval_s: int = HEARTBEAT_INTERVAL_S
    grace_s: int = HEARTBEAT_GRACE_S

    def __post_init__(self) -> None:
        if self.interval_s < 1 or self.grace_s <= self.interval_s:
            raise ConfigError(f"heartbeat: need interval >= 1 s and grace > interval, got "
                              f"{self.interval_s} s / {self.grace_s} s")


def optuna_storage(url: str, heartbeat: Heartbeat = Heartbeat(), on_stale: StaleCallback | None = None
                   ) -> RDBStorage:
    """Optuna's RDB storage on ``url``, with heartbeats so a killed worker's trial is detected;
    ``on_stale`` is called once (by one worker) for each trial whose heartbeat stopped."""
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5; we rely on them knowingly
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RDBStorage(url, engine_kwargs=engine_kwargs(url), heartbeat_interval=heartbeat.interval_s,
                          grace_period=heartbeat.grace_s, heartbeat_stale_trial_callback=on_stale)


def make_sampler(cfg: StudyConfig, worker_seed: int = 0) -> optuna.samplers.BaseSampler:
    """The one place a sampler name becomes a sampler; all of them honour the constraints each trial sets
    (``Trial.set_constraint``, read by every Optuna 5 sampler and by ``best_trials``).

    ``worker_seed`` differs per worker: workers seeded alike would propose the same candidates."""
    seed = (cfg.seed * 100_003 + worker_seed) % 2**32  # numpy seeds must fit 32 bits
    if cfg.sampler == "nsga2":
        population = max(4, min(50, cfg.n_trials // 3))
        return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
    if cfg.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if cfg.sampler == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


class SqlCostCache:
    """The precheck's cost cache in the service database, shared by every worker; also kept in memory.

    A database error is a cache miss (the precheck then exports as before), never a failed trial.
    """

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions
        self._memory: dict[str, CostReport] = {}

    def get(self, key: str) -> CostReport | None:
        if key not in self._memory:
            try:
                with self.sessions() as s:
                    row = s.get(CostCacheRow, key)
                    if row is not None:
                        self._memory[key] = CostReport.from_dict(row.report)
            except SQLAlchemyError as e:
                log.warning("cost cache unavailable (%s); pricing the export", type(e).__name__)
        return self._memory.get(key)

    def put(self, key: str, report: CostReport) -> None:
        self._memory[key] = report
        try:
            with self.sessions() as s:
                s.add(CostCacheRow(key=key, device=report.device, report=report.to_dict()))
                s.commit()
        except IntegrityError:
            pass  # another worker priced the same graph first: same figures
        except SQLAlchemyError as e:
            log.warning("cost cache not written (%s)", type(e).__name__)


#: Trial attribute naming the starting point an enqueued trial came from.
STARTING_POINT_ATTR = "nas:starting_point"


def create_optuna_study(cfg: StudyConfig, url: str, start_with: Sequence[StartingPoint] = ()) -> optuna.Study:
    """The Optuna study of ``cfg``, its objectives named (``optuna-dashboard DB_URL`` shows accuracy,
    latency_ms, ...); ``start_with`` are enqueued, so the first trials asked are those."""
    study = optuna.create_study(study_name=cfg.name, storage=optuna_storage(url), directions=cfg.directions,
                                sampler=make_sampler(cfg), load_if_exists=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(list(cfg.objectives))
    if not study.get_trials(deepcopy=False):  # a new study (never enqueue twice)
        for point in start_with:
            study.enqueue_trial(point.params, user_attrs={STARTING_POINT_ATTR: point.name})
    return study


def starting_points(cfg: StudyConfig, space: SearchSpace, url: str) -> list[StartingPoint]:
    """The space's references, then the feasible front of ``cfg.warm_start`` where it fits ``space``.

    At most half the budget (at least one trial) is spent on them: the rest explores. A point of the
    earlier study that this space cannot express is skipped, with the reason in the log.
    """
    points = list(space.references) if cfg.references else []
    if cfg.warm_start:
        try:
            earlier = optuna.load_study(study_name=cfg.warm_start, storage=optuna_storage(url))
        except KeyError as e:
            raise NotFoundError(f"warm start: no study named '{cfg.warm_start}' in this database") from e
        names = space.param_specs().keys()
        for t in earlier.best_trials:
            params = {k: v for k, v in t.params.items() if k in names}
            reason = space.misfit(params)
            if reason:
                log.info("warm start: trial %d of %s left out (%s)", t.number, cfg.warm_start, reason)
            else:
                points.append(StartingPoint(f"{cfg.warm_start}#{t.number}", params))
    unique: dict[str, StartingPoint] = {}
    for p in points:  # a front point equal to a reference runs once, under the reference's name
        unique.setdefault(json.dumps(p.params, sort_keys=True, default=str), p)
    return [StartingPoint(p.name, space.to_optuna(p.params)) for p in list(unique.values())[:max(1, cfg.n_trials // 2)]]


def load_optuna_study(cfg: StudyConfig, url: str, worker_seed: int = 0, *, heartbeat: Heartbeat = Heartbeat(),
                      on_stale: StaleCallback | None = None) -> optuna.Study:
    return optuna.load_study(study_name=cfg.name, storage=optuna_storage(url, heartbeat, on_stale),
                             sampler=make_sampler(cfg, worker_seed))


def figure(objective: str, result_or_row: Any, cost: CostReport | MeasurementRow | None) -> float:
    """The raw value of ``objective`` for a trial on one device."""
    if objective == "accuracy":
        return float(result_or_row.accuracy or 0.0)
    if objective in ("macs", "params"):
        return float(getattr(result_or_row, objective) or 0)
    if objective in ENERGY_OBJECTIVES:
        value = energy_figure(objective, cost)
        if value is None:
            raise ConfigError(f"objective {objective}: device {getattr(cost, 'device', '?')} has no energy model "
                              "(an MCU profile with cost.active_mw is needed)")
        return value
    return float(getattr(cost, objective))


def energy_figure(objective: str, cost: CostReport | MeasurementRow | None) -> float | None:
    """``energy_uj`` or ``power_mw`` of a cost report, or of a stored measurement (its report read back:
    the measurement table has no energy columns)."""
    if cost is None:
        return None
    report = cost if isinstance(cost, CostReport) else CostReport.from_dict(cost.report)
    value = getattr(report, objective)
    return None if value is None else float(value)


def objective_values(cfg: StudyConfig, result: TrialResult) -> list[float]:
    cost = result.costs.get(cfg.devices[0])
    return [figure(o, result, cost) for o in cfg.objectives]


def constraint_values(cfg: StudyConfig, result: TrialResult, profiles: dict[str, HardwareProfile]
                      ) -> dict[str, float]:
    """Named constraints, Optuna's convention: a value > 0 is a violation by that much (<= 0 is satisfied)."""
    out: dict[str, float] = {}
    for name in cfg.devices:
        c, p = result.costs.get(name), profiles[name]
        if c is None:  # not priced (the precheck stopped at the primary device)
            out |= {f"{name}.ram_kb": 0.0, f"{name}.flash_kb": 0.0, f"{name}.deployable": 1.0}
            continue
        out |= {f"{name}.{figure}": excess for figure, excess in p.memory_excess(c.ram_kb, c.flash_kb).items()}
        out[f"{name}.deployable"] = 0.0 if c.deployable else 1.0
    primary = result.costs.get(cfg.devices[0])
    if cfg.max_latency_ms is not None:
        out["max_latency_ms"] = (primary.latency_ms if primary else cfg.max_latency_ms * 2) - cfg.max_latency_ms
    if cfg.max_energy_uj is not None:
        e = primary.energy_uj if primary else None
        out["max_energy_uj"] = (cfg.max_energy_uj * 2 if e is None else e) - cfg.max_energy_uj
    if cfg.min_accuracy is not None:
        out["min_accuracy"] = cfg.min_accuracy - result.accuracy if result.status == TrialStatus.OK else 1.0
    # precheck-infeasible trials were never trained: keep them out of the front
    out["trained"] = 0.0 if result.status == TrialStatus.OK else 1.0
    return out


def reference_point(cfg: StudyConfig, profile: HardwareProfile) -> list[float]:
    """Per-objective reference (worst acceptable value) for hypervolume, in loss form."""
    # energy: an inference busy for the whole period at active power, and that power itself
    active_mw = profile.coef("active_mw", 1000.0)
    ref = {"accuracy": 1.0, "latency_ms": cfg.max_latency_ms or 1000.0, "ram_kb": profile.sram_kb,
           "flash_kb": profile.flash_kb, "macs": 1e9, "params": 1e7,
           "energy_uj": cfg.max_energy_uj or active_mw * 1000.0 / cfg.inference_rate_hz, "power_mw": active_mw}
    return [ref[o] for o in cfg.objectives]


def loss_vector(cfg: StudyConfig, values: list[float]) -> list[float]:
    return [1.0 - v if OBJECTIVES[o] == "maximize" else v for o, v in zip(cfg.objectives, values, strict=True)]


def normalized_hypervolume(cfg: StudyConfig, profile: HardwareProfile, fronts: list[list[float]]) -> float:
    """Hypervolume with every axis divided by its reference value, so it lies in [0, 1]."""
    ref = reference_point(cfg, profile)
    pts = [[v / r for v, r in zip(loss_vector(cfg, vals), ref, strict=True)] for vals in fronts]
    return hypervolume(pts, [1.0] * len(ref))


def _lock_study(session: Session, study: StudyRow) -> None:
    # A write first: on PostgreSQL it row-locks the study, on SQLite it takes the write lock, so
    # concurrent workers update the front one at a time.
    session.execute(update(StudyRow).where(StudyRow.id == study.id).values(updated_at=utcnow()))


def record_result(session: Session, study: StudyRow, cfg: StudyConfig, number: int, result: TrialResult,
                  profiles: dict[str, HardwareProfile], tflite: bytes | None, worker: str = "", *,
                  note: dict[str, Any] | None = None) -> TrialRow:
    """Insert a finished trial, its measurements and artifacts (``.tflite``; ``trial.json`` with the
    training log and confusion matrix); update the fronts. Commits.

    ``note``: added to the stored details (``retry_of``, the early-stopping decision, ...)."""
    _lock_study(session, study)
    primary = result.costs.get(cfg.devices[0])
    feasible = (result.status == TrialStatus.OK
                and all(v <= 0 for v in constraint_values(cfg, result, profiles).values()))
    details = result.to_dict()
    details.update(note or {})
    trial_json = json.dumps(details, default=float).encode()
    details.pop("costs")
    figures = TrialFigures.of_result(number, result, primary, feasible=feasible, worker=worker)
    row = TrialRow(study_id=study.id, candidate=result.candidate.to_dict(), details=details, **figures.columns())
    session.add(row)
    session.flush()
    for device, c in result.costs.items():
        session.add(MeasurementRow(trial_id=row.id, device=device, deployable=c.deployable,
                                   latency_ms=c.latency_ms, ram_kb=c.ram_kb, flash_kb=c.flash_kb,
                                   latency_source=c.latency_source, ram_source=c.ram_source, report=c.to_dict()))
    if tflite is not None:
        session.add(ArtifactRow(trial_id=row.id, kind="model.tflite", data=tflite))
    session.add(ArtifactRow(trial_id=row.id, kind="trial.json", data=trial_json))
    if feasible:
        for device in cfg.devices:
            _update_front(session, study, cfg, row, device, result.costs[device])
    _record_history(session, study, cfg, profiles[cfg.devices[0]])
    session.commit()
    return row


def record_failure(session: Session, study: StudyRow, number: int, candidate: dict[str, Any], reason: str,
                   worker: str = "", *, note: dict[str, Any] | None = None) -> None:
    """Insert a failed trial (it consumes its slot of the budget). Commits."""
    _lock_study(session, study)
    figures = TrialFigures.of_failure(number, candidate, reason, worker)
    session.add(TrialRow(study_id=study.id, candidate=candidate, details=dict(note or {}), **figures.columns()))
    session.commit()


def cost_objectives(cfg: StudyConfig) -> tuple[str, ...]:
    """The study's objectives other than accuracy, in its order: what a rung ranks beside accuracy."""
    return tuple(o for o in cfg.objectives if o != "accuracy")


def judge_rung(session: Session, study: StudyRow, eta: int, number: int, rung: int, epoch: int,
               val_accuracy: float, costs: tuple[float, ...]) -> RungResult:
    """Record candidate ``number`` at ``rung`` and decide its promotion against the candidates recorded
    there before it (one at a time: the study row is locked). A candidate already recorded at that rung
    (its worker was lost and it runs again) gets its recorded decision back, and nothing is written."""
    _lock_study(session, study)
    rows = session.scalars(select(RungRow).where(RungRow.study_id == study.id, RungRow.rung == rung)
                           .order_by(RungRow.id)).all()
    own = next((r for r in rows if r.number == number), None)
    if own is None:
        others = [(1.0 - r.val_accuracy, *r.costs) for r in rows]
        promoted = promotable((1.0 - val_accuracy, *costs), others, eta)
        result = RungResult(rung, epoch, val_accuracy, costs, promoted, len(rows))
        session.add(RungRow(study_id=study.id, number=number, rung=rung, epoch=epoch, val_accuracy=val_accuracy,
                            costs=list(costs), promoted=result.promoted, competitors=len(rows)))
    else:
        result = RungResult(own.rung, own.epoch, own.val_accuracy, tuple(own.costs), own.promoted, own.competitors)
    session.commit()
    return result


def finish_if_done(session: Session, study: StudyRow) -> int:
    """Mark the study finished once its budget of trials is recorded; returns how many are. Commits."""
    n_done = session.query(TrialRow).filter(TrialRow.study_id == study.id).count()
    if n_done >= study.budget:
        session.execute(update(StudyRow).where(StudyRow.id == study.id, StudyRow.status == StudyStatus.RUNNING)
                        .values(status=StudyStatus.FINISHED))
        session.commit()
    return n_done


def _update_front(session: Session, study: StudyRow, cfg: StudyConfig, row: TrialRow, device: str,
                  cost: CostReport) -> None:
    values = [figure(o, row, cost) for o in cfg.objectives]
    new = loss_vector(cfg, values)
    current = session.scalars(select(ParetoPointRow).where(ParetoPointRow.study_id == study.id,
                                                           ParetoPointRow.device == device)).all()
    if any(dominates(loss_vector(cfg, p.values), new) for p in current):
        return
    for p in current:
        if dominates(new, loss_vector(cfg, p.values)):
            session.delete(p)
    session.add(ParetoPointRow(study_id=study.id, device=device, trial_id=row.id, number=row.number,
                               values=values))


def _record_history(session: Session, study: StudyRow, cfg: StudyConfig, profile: HardwareProfile) -> None:
    session.flush()
    front = session.scalars(select(ParetoPointRow.values).where(ParetoPointRow.study_id == study.id,
                                                                ParetoPointRow.device == profile.name)).all()
    n = session.query(TrialRow).filter(TrialRow.study_id == study.id).count()
    session.add(FrontHistoryRow(study_id=study.id, n_trials=n, front_size=len(front),
                                hypervolume=normalized_hypervolume(cfg, profile, list(front))))


@dataclass(frozen=True)
class Savings:
    """Training time the precheck and early stopping saved in a study, estimated from its own trials.

    A trial skipped by the precheck would have cost the mean post-precheck time of the fully trained
    trials; the precheck's own time (every trial pays it) is subtracted. A trial stopped early saved
    its remaining epochs at its own per-epoch time, plus the mean pruning/fine-tuning time if it prunes."""

    trained: int
    precheck_skipped: int
    precheck_cost_s: float
    precheck_saved_s: float
    stopped_early: int
    early_saved_s: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


_AFTER_PRECHECK = ("train", "prune", "export", "evaluate", "price")
#: phases of ``TrialResult.seconds`` that are training (``prune`` is the pruning fine-tuning, nearly all training)
TRAINING_PHASES = ("train", "prune", "qat")


@dataclass(frozen=True)
class SearchEffort:
    """Where a study's work went: epochs and seconds, and the multi-fidelity rungs.

    ``epochs``: training epochs of every trial (main training, fine-tuning and QAT); ``epochs_on_front``:
    those of the trials on the primary device's front now. ``wall_s``: the workers' time from asking for each
    trial to recording it; ``training_s``: its training phases; the rest is outside training (features,
    precheck, export, evaluation, pricing, the database). ``rungs``: per rung, (epoch, reached, promoted)."""

    trials: int
    epochs: int
    epochs_on_front: int
    wall_s: float
    training_s: float
    rungs: tuple[tuple[int, int, int], ...]

    @property
    def dominated_epoch_share(self) -> float:
        """The share of training epochs spent on candidates that are not on the front."""
        return 1.0 - self.epochs_on_front / self.epochs if self.epochs else 0.0

    @property
    def outside_training_share(self) -> float:
        return 1.0 - self.training_s / self.wall_s if self.wall_s else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "dominated_epoch_share": self.dominated_epoch_share,
                "outside_training_share": self.outside_training_share}


def search_effort(session: Session, study_id: int, device: str) -> SearchEffort:
    front = set(session.scalars(select(ParetoPointRow.trial_id).where(ParetoPointRow.study_id == study_id,
                                                                      ParetoPointRow.device == device)).all())
    epochs = on_front = 0
    wall = training = 0.0
    rows = session.execute(select(TrialRow.id, TrialRow.details).where(TrialRow.study_id == study_id)).all()
    for trial_id, details in rows:
        n = len(details.get("history", []))
        epochs += n
        on_front += n if trial_id in front else 0
        seconds = details.get("seconds", {})
        trained = sum(seconds.get(k, 0.0) for k in TRAINING_PHASES)
        training += trained
        wall += details.get("wall_s", sum(seconds.values()))
    rungs = session.execute(select(RungRow.epoch, func.count(), func.sum(case((RungRow.promoted, 1), else_=0)))
                            .where(RungRow.study_id == study_id).group_by(RungRow.rung, RungRow.epoch)
                            .order_by(RungRow.rung)).all()
    return SearchEffort(len(rows), epochs, on_front, wall, training,
                        tuple((int(e), int(n), int(p or 0)) for e, n, p in rungs))


def savings(session: Session, study_id: int) -> Savings:
    details = session.scalars(select(TrialRow.details).where(TrialRow.study_id == study_id)).all()
    results = [TrialResult.from_dict(d) for d in details if d.get("seconds")]  # a failed trial has no result
    skipped = [r for r in results if r.extra.get("precheck")]
    stopped = [r for r in results if r.stopped_early]
    full = [r for r in results if not r.extra.get("precheck") and not r.stopped_early]
    mean_full = sum(sum(r.seconds.get(k, 0.0) for k in _AFTER_PRECHECK) for r in full) / max(1, len(full))
    prunes = [r.seconds["prune"] for r in full if "prune" in r.seconds]
    mean_prune = sum(prunes) / max(1, len(prunes))
    precheck_cost = sum(r.seconds.get("precheck", 0.0) for r in results)
    early = 0.0
    for r in stopped:
        ran = max(1, len(training_epochs(r.history)))
        early += (r.candidate.train.epochs - ran) * r.seconds.get("train", 0.0) / ran
        early += mean_prune if r.candidate.prune_ratio > 0 else 0.0
    return Savings(len(full) + len(stopped), len(skipped), precheck_cost, len(skipped) * mean_full - precheck_cost,
                   len(stopped), early)
