"""The service's record of its studies, in SQL: each finished trial with its per-device figures and
artifacts, the Pareto front and its hypervolume history (updated in the same transaction), the rungs of
multi-fidelity studies, the precheck's cost cache, and what the records add up to (savings, effort).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, case, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from nas.hardware import CostReport, HardwareProfile
from nas.pipeline import TrialResult, training_epochs
from nas.status import StudyStatus, TrialStatus
from nas.study.config import StudyConfig
from nas.study.fidelity import RungResult, promotable
from nas.study.pareto import dominates
from nas.study.records import TrialFigures
from nas.study.sampler import constraint_values, figure, loss_vector, normalized_hypervolume
from nas.study.tables import (
    ArtifactRow,
    CostCacheRow,
    FrontHistoryRow,
    MeasurementRow,
    ParetoPointRow,
    RungRow,
    StudyRow,
    TrialRow,
    utcnow,
)

log = logging.getLogger(__name__)


def count_trials(session: Session, study_id: int) -> int:
    """How many trials of the study are recorded (finished, failed or stopped)."""
    return session.scalar(select(func.count()).select_from(TrialRow).where(TrialRow.study_id == study_id)) or 0


def is_recorded(session: Session, study_id: int, number: int) -> bool:
    """Whether trial ``number`` is recorded (a commit whose answer was lost is not written twice)."""
    return session.scalar(select(TrialRow.id).where(TrialRow.study_id == study_id,
                                                    TrialRow.number == number)) is not None


def running_studies(session: Session, name: str | None = None) -> list[StudyRow]:
    """Running studies, oldest first (only ``name`` when given)."""
    q = select(StudyRow).where(StudyRow.status == StudyStatus.RUNNING)
    if name:
        q = q.where(StudyRow.name == name)
    return list(session.scalars(q.order_by(StudyRow.created_at)))


def fail_study(session: Session, study_id: int, reason: str) -> None:
    """Mark a running study failed with a one-line reason; workers stop claiming its trials."""
    session.execute(update(StudyRow).where(StudyRow.id == study_id, StudyRow.status == StudyStatus.RUNNING)
                    .values(status=StudyStatus.FAILED, failure_reason=" ".join(reason.split())[:2000]))
    session.commit()


def claim_slot(session: Session, study_id: int) -> bool:
    """Atomically take one trial of the budget; False when it is spent or the study is not running."""
    stmt = (update(StudyRow)
            .where(StudyRow.id == study_id, StudyRow.claimed < StudyRow.budget,
                   StudyRow.status == StudyStatus.RUNNING)
            .values(claimed=StudyRow.claimed + 1))
    res = cast(CursorResult, session.execute(stmt))  # an UPDATE's result has a rowcount
    session.commit()
    return res.rowcount == 1


def leaked_slots(session: Session, study_id: int, active: int) -> tuple[int, int]:
    """(claimed, claimed slots with neither a recorded nor an active trial)."""
    claimed = session.scalar(select(StudyRow.claimed).where(StudyRow.id == study_id)) or 0
    return claimed, claimed - count_trials(session, study_id) - active


def release_leaked_slots(session: Session, study_id: int, claimed: int, leaked: int) -> bool:
    """Give ``leaked`` slots back if ``claimed`` has not changed since they were counted."""
    stmt = (update(StudyRow).where(StudyRow.id == study_id, StudyRow.claimed == claimed)
            .values(claimed=StudyRow.claimed - leaked))
    res = cast(CursorResult, session.execute(stmt))  # an UPDATE's result has a rowcount
    session.commit()
    if res.rowcount:
        log.warning("gave %d claimed slot(s) without a trial back to the budget (a worker died before "
                    "starting its trial)", leaked)
    return bool(res.rowcount)


def store_dataset_summary(session: Session, study_id: int, summary: dict[str, Any]) -> bool:
    """Keep the dataset summary with the study; True for the one caller that stored it."""
    res = cast(CursorResult, session.execute(update(StudyRow).where(
        StudyRow.id == study_id, StudyRow.dataset_summary.is_(None)).values(dataset_summary=summary)))
    session.commit()
    return res.rowcount == 1


def front_values(session: Session, study_id: int, device: str) -> list[list[float]]:
    """The objective values of the points on the study's front on ``device``."""
    return [list(v) for v in session.scalars(select(ParetoPointRow.values).where(
        ParetoPointRow.study_id == study_id, ParetoPointRow.device == device)).all()]


def recent_ok_details(session: Session, study_id: int, limit: int = 200) -> list[tuple[dict[str, Any], float | None]]:
    """(details, accuracy) of the study's latest ``ok`` trials, newest first."""
    rows = session.execute(select(TrialRow.details, TrialRow.accuracy).where(
        TrialRow.study_id == study_id, TrialRow.status == TrialStatus.OK).order_by(TrialRow.id.desc()).limit(limit))
    return [(d, a) for d, a in rows.all()]


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

def _exported(session: Session, study: StudyRow, rows: Sequence[RungRow]) -> list[tuple[float, ...]]:
    """The loss vectors of the final rung's candidates whose files are recorded feasible: the file's own
    accuracy (after pruning, fine-tuning and quantization, which a float accuracy overstates), the rung's costs."""
    accuracy = {n: a for n, a in session.execute(select(TrialRow.number, TrialRow.accuracy).where(
        TrialRow.study_id == study.id, TrialRow.status == TrialStatus.OK, TrialRow.feasible,
        TrialRow.number.in_([r.number for r in rows]))).all() if a is not None}
    return [(1.0 - accuracy[r.number], *r.costs) for r in rows if r.number in accuracy]


def judge_rung(session: Session, study: StudyRow, eta: int | None, number: int, rung: int, epoch: int,
               val_accuracy: float, costs: tuple[float, ...]) -> RungResult:
    """Record candidate ``number`` at ``rung`` and decide its promotion against the candidates recorded
    there before it (one at a time: the study row is locked). ``eta`` None, the final rung: against the
    files of those already recorded feasible, by dominance alone (:func:`promotable`). A candidate already
    recorded at that rung (its worker was lost and it runs again) gets its recorded decision back, and nothing
    is written."""
    _lock_study(session, study)
    rows = session.scalars(select(RungRow).where(RungRow.study_id == study.id, RungRow.rung == rung)
                           .order_by(RungRow.id)).all()
    own = next((r for r in rows if r.number == number), None)
    if own is None:
        others = ([(1.0 - r.val_accuracy, *r.costs) for r in rows] if eta is not None
                  else _exported(session, study, rows))
        promoted = promotable((1.0 - val_accuracy, *costs), others, eta)
        result = RungResult(rung, epoch, val_accuracy, costs, promoted, len(others))
        session.add(RungRow(study_id=study.id, number=number, rung=rung, epoch=epoch, val_accuracy=val_accuracy,
                            costs=list(costs), promoted=result.promoted, competitors=len(others)))
    else:
        result = RungResult(own.rung, own.epoch, own.val_accuracy, tuple(own.costs), own.promoted, own.competitors)
    session.commit()
    return result

def finish_if_done(session: Session, study: StudyRow) -> int:
    """Mark the study finished once its budget of trials is recorded; returns how many are. Commits."""
    n_done = count_trials(session, study.id)
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
    front = front_values(session, study.id, profile.name)
    session.add(FrontHistoryRow(study_id=study.id, n_trials=count_trials(session, study.id), front_size=len(front),
                                hypervolume=normalized_hypervolume(cfg, profile, front)))


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
    those of the ``front_size`` trials on the primary device's front now. ``wall_s``: the workers' time from
    asking for each trial to recording it; ``training_s``: its training phases; the rest is outside training (features,
    precheck, export, evaluation, pricing, the database). ``phases``: seconds per phase of
    ``TrialResult.seconds`` over the study, plus ``other`` (the wall time no phase accounts for: building
    models, asking Optuna). ``rungs``: per rung, (epoch, reached, promoted)."""

    trials: int
    epochs: int
    epochs_on_front: int
    front_size: int
    wall_s: float
    training_s: float
    phases: dict[str, float]
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
    wall = 0.0
    phases: dict[str, float] = {}
    rows = session.execute(select(TrialRow.id, TrialRow.details).where(TrialRow.study_id == study_id)).all()
    for trial_id, details in rows:
        n = len(details.get("history", []))
        epochs += n
        on_front += n if trial_id in front else 0
        seconds = details.get("seconds", {})
        for phase, value in seconds.items():
            phases[phase] = phases.get(phase, 0.0) + value
        wall += details.get("wall_s", sum(seconds.values()))
    phases["other"] = max(0.0, wall - sum(phases.values()))
    training = sum(phases.get(k, 0.0) for k in TRAINING_PHASES)
    rungs = session.execute(select(RungRow.epoch, func.count(), func.sum(case((RungRow.promoted, 1), else_=0)))
                            .where(RungRow.study_id == study_id).group_by(RungRow.rung, RungRow.epoch)
                            .order_by(RungRow.rung)).all()
    return SearchEffort(len(rows), epochs, on_front, len(front), wall, training, phases,
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
