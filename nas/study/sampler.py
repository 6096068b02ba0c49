"""The Optuna side of a study: its storage and sampler, warm starts, and a trial's objective and
constraint values.

Objectives are taken on the first device of the study; hard constraints (every device's RAM and
flash budget, deployability, an optional latency deadline and minimum accuracy) go to Optuna as
constraint values, so infeasible trials never enter the feasible front.
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

from nas.errors import ConfigError, NotFoundError
from nas.hardware import CostReport, HardwareProfile
from nas.pipeline import TrialResult
from nas.space import SearchSpace, StartingPoint
from nas.status import TrialStatus
from nas.study.config import ENERGY_OBJECTIVES, OBJECTIVES, StudyConfig
from nas.study.pareto import hypervolume
from nas.study.tables import MeasurementRow, engine_kwargs

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


def cost_objectives(cfg: StudyConfig) -> tuple[str, ...]:
    """The study's objectives other than accuracy, in its order: what a rung ranks beside accuracy."""
    return tuple(o for o in cfg.objectives if o != "accuracy")
