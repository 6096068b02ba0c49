"""Workers pull trials from running studies until their budgets are spent.

A worker is a process (litert-torch conversions beside training threads crashed in tests) that
runs one trial at a time. Before asking Optuna for a trial it claims a slot of the study's budget
with one atomic ``UPDATE ... WHERE claimed < budget``, so any number of workers on any number of
machines never run more trials than the budget, on SQLite and PostgreSQL alike.

While a trial runs, a thread records its heartbeat. A worker with nothing left to claim stays while
trials are under way elsewhere: if one of their workers dies, it retries the trial (see
:mod:`nas.study.recovery`), so the study still ends with exactly its budget of recorded trials.
Every database operation is retried with backoff; a finished trial's result stays in memory (and in
``trial.json`` beside its ``.tflite``) until it is recorded.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import optuna
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from nas.artifacts import study_dir
from nas.data import FeatureCache
from nas.errors import NasError, StorageError
from nas.logs import setup_logging
from nas.pipeline import TrialResult, run_trial
from nas.status import TrialStatus
from nas.study.early_stopping import EarlyStopper, early_stopper
from nas.study.fidelity import RungGate, RungResult
from nas.study.optuna_private import study_storage, trial_id
from nas.study.recovery import (
    CANDIDATE_ATTR,
    RETRY_OF_ATTR,
    HeartbeatStorage,
    LeakWatch,
    RetryPolicy,
    TrialHeartbeat,
    active_trials,
    fail_lost_trials,
    note_of,
    with_db_retry,
)
from nas.study.runtime import StudyRuntime
from nas.study.sampler import Heartbeat, constraint_values, objective_values
from nas.study.store import (
    SqlCostCache,
    claim_slot,
    count_trials,
    fail_study,
    finish_if_done,
    front_values,
    is_recorded,
    judge_rung,
    recent_ok_details,
    record_failure,
    record_result,
    running_studies,
)
from nas.study.tables import StudyRow, make_engine, make_sessionmaker
from nas.train import resolve_device

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker watches over trials: heartbeat, retries of lost trials, database backoff.

    ``linger``: with nothing left to claim, wait while trials run elsewhere, to retry them if their
    worker dies (without it, the last trial of a study lost with its worker is never retried)."""

    heartbeat: Heartbeat = field(default_factory=Heartbeat)
    max_retries: int = 1
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    linger: bool = True
    accelerator: str = "auto"  # training device: auto (CUDA when visible) | cpu | cuda


def usable_cores() -> int:
    """Cores this process may run on (a SLURM or container CPU set, not the whole machine).

    Inside a SLURM task, at most its ``--cpus-per-task``: a cluster without CPU binding
    (``TaskPlugin=task/none``) leaves every core in the CPU set of every task."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    return min(n, int(slurm)) if slurm.isdigit() and int(slurm) > 0 else n


def set_torch_threads(n_workers: int) -> int:
    """Split the cores between workers so N workers on N cores do not oversubscribe."""
    import torch

    n = max(1, usable_cores() // max(1, n_workers))
    torch.set_num_threads(n)
    return n


class Worker:
    """Runs trials of running studies from one database until there is nothing left to do."""

    def __init__(self, db_url: str, *, study_name: str | None = None, artifacts: Path = Path("runs"),
                 cache_dir: Path = Path(".nas_cache"), name: str | None = None,
                 options: WorkerOptions = WorkerOptions()):
        self.db_url = db_url
        self.study_name = study_name
        self.artifacts = Path(artifacts)
        self.cache = FeatureCache(cache_dir)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.options = options
        self.sessions: sessionmaker = make_sessionmaker(make_engine(db_url))
        self.cost_cache = SqlCostCache(self.sessions)
        self._runtimes: dict[str, StudyRuntime] = {}
        self._leaks = LeakWatch(options.heartbeat.grace_s)
        self.stop_requested = False  # set by request_stop (a signal handler): checked between trials
        self.device = resolve_device(options.accelerator)  # refuses 'cuda' without one, before any trial
        log.info("[%s] trains on %s", self.name, self.device)

    def _db(self, fn: Callable[[], T], what: str) -> T:
        return with_db_retry(fn, f"[{self.name}] {what}", self.options.retry)

    def _runtime(self, row: StudyRow) -> StudyRuntime:
        if row.name not in self._runtimes:
            o = self.options
            self._runtimes[row.name] = StudyRuntime.load(
                row, db_url=self.db_url, sessions=self.sessions, worker=self.name, cache=self.cache,
                cost_cache=self.cost_cache, heartbeat=o.heartbeat, max_retries=o.max_retries, retry=o.retry,
                accelerator=o.accelerator, artifacts=study_dir(self.artifacts, row.name, row.created_at))
        return self._runtimes[row.name]

    def _usable_runtime(self, session: Session, row: StudyRow) -> StudyRuntime | None:
        """The study's runtime, or None once the study is marked failed because its dataset cannot be loaded
        or its runtime built: one broken study must not stop this worker from running the others."""
        try:
            return self._runtime(row)
        except (SQLAlchemyError, StorageError, optuna.exceptions.StorageInternalError):
            raise  # the database, not the study: retried by _db
        except Exception as e:
            reason = str(e) if isinstance(e, NasError) else f"{type(e).__name__}: {e}"
            fail_study(session, row.id, reason)
            log.error("[%s] study %s failed, going on with the others: %s", self.name, row.name, reason)
            return None

    def request_stop(self) -> None:
        """Claim no more trials: the trial under way finishes and is recorded, then :meth:`run` returns.

        Only sets a flag, so it is safe in a signal handler (nothing is raised inside the trial)."""
        self.stop_requested = True

    def run(self, *, max_trials: int | None = None) -> int:
        """Run trials until no running study has budget left (and, lingering, none has trials under
        way elsewhere) or :meth:`request_stop` was called; returns how many this worker ran."""
        done = 0
        while (max_trials is None or done < max_trials) and not self.stop_requested:
            row = self._db(self._claim, "claim a trial")
            if row is not None:
                self.run_one(row)
                done += 1
            elif not (self.options.linger and self._db(self._watch_others, "watch trials under way")):
                break
        if self.stop_requested:
            log.info("[%s] stopped on request after %d trial(s)", self.name, done)
        return done

    def _claim(self) -> StudyRow | None:
        with self.sessions() as session:
            for row in running_studies(session, self.study_name):
                if row.claimed >= row.budget or (rt := self._usable_runtime(session, row)) is None:
                    continue
                fail_lost_trials(rt.study)  # lost trials give their slots back first
                if claim_slot(session, row.id):
                    return row
        return None

    def _watch_others(self) -> bool:
        """Wait a moment for trials under way elsewhere and recover lost ones; False when none."""
        with self.sessions() as session:
            waiting = [r for r in running_studies(session, self.study_name)
                       if count_trials(session, r.id) < r.budget]
        if not waiting:
            return False
        time.sleep(min(2.0, self.options.heartbeat.interval_s))  # short: notice the end of the study soon
        for row in waiting:
            with self.sessions() as session:
                rt = self._usable_runtime(session, row)
                if rt is not None:
                    fail_lost_trials(rt.study)
                    self._leaks.check(session, row.id, active_trials(rt.study))
        return True

    def run_one(self, row: StudyRow) -> None:
        rt = self._runtime(row)
        started = time.perf_counter()
        trial = self._db(rt.study.ask, "start a trial")
        storage = cast(HeartbeatStorage, study_storage(rt.study))
        beat = TrialHeartbeat(storage, trial_id(trial), self.options.heartbeat.interval_s).start()
        try:
            candidate = rt.space.sample(trial)
            self._db(lambda: self._describe(trial, candidate.to_dict()), f"start trial {trial.number}")
            out_dir = rt.artifacts / f"trial-{trial.number:04d}"
            stopper = self._stopper(rt, row, candidate.train.epochs) if rt.cfg.early_stopping else None
            rungs = self._rung_gate(rt, row, trial, candidate.train.epochs)
            try:
                result = run_trial(candidate, rt.ctx, out_dir, on_epoch=stopper,
                                   on_precheck=stopper.set_cost if stopper else None, rungs=rungs)
            except Exception as e:  # a failed trial is a result; the worker goes on
                reason = str(e) if isinstance(e, NasError) else f"{type(e).__name__}: {e}"
                log.warning("[%s] trial %d failed: %s\n%s", self.name, trial.number, reason,
                            "" if isinstance(e, NasError) else traceback.format_exc())
                self._db(lambda: self._record_failure(rt, row, trial, candidate.to_dict(), reason),
                         f"record failed trial {trial.number}")
                return
            note = note_of(trial) | ({"early_stop": stopper.decision} if stopper and stopper.decision else {})
            note["wall_s"] = time.perf_counter() - started  # from ask to recording: the trial's share of the worker
            self._record(rt, row, trial, result, out_dir, note)
        finally:
            beat.stop()

    def _describe(self, trial: optuna.Trial, candidate: dict[str, Any]) -> None:
        trial.set_user_attr("worker", self.name)
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr(CANDIDATE_ATTR, candidate)

    def _stopper(self, rt: StudyRuntime, row: StudyRow, epochs: int) -> EarlyStopper | None:
        """The early-stopping callback of the next trial, built on the current front (None: no rule)."""
        with self.sessions() as s:
            front = front_values(s, row.id, rt.cfg.devices[0])
            finished = recent_ok_details(s, row.id)
        return early_stopper(rt.cfg, front, finished, epochs)

    def _rung_gate(self, rt: StudyRuntime, row: StudyRow, trial: optuna.Trial, epochs: int) -> RungGate | None:
        """The multi-fidelity callback of the next trial (None: fidelity off, or no rung below ``epochs``).

        Rungs are recorded under the number the candidate first ran as, so a re-run is judged once."""
        fidelity = rt.cfg.fidelity
        rungs = fidelity.rungs(epochs) if fidelity is not None and "accuracy" in rt.cfg.objectives else ()
        if fidelity is None or not rungs:
            return None
        number = int(trial.user_attrs.get(RETRY_OF_ATTR, trial.number))

        def judge(rung: int, epoch: int, val_accuracy: float, costs: tuple[float, ...]) -> RungResult:
            eta = fidelity.eta if rung < len(rungs) else None  # the final rung: dominance alone

            def decide() -> RungResult:
                with self.sessions() as session:
                    return judge_rung(session, row, eta, number, rung, epoch, val_accuracy, costs)

            result = self._db(decide, f"judge trial {trial.number} at rung {rung + 1}")
            log.info("[%s] trial %d rung %d (epoch %d): accuracy %.3f, %s (%d before it)", self.name, trial.number,
                     rung + 1, epoch, val_accuracy, "promoted" if result.promoted else "stopped", result.competitors)
            return result

        return RungGate(rungs, rt.cfg.cost_objectives, judge, final=fidelity.final_rung)

    def _record(self, rt: StudyRuntime, row: StudyRow, trial: optuna.Trial, result: TrialResult,
                out_dir: Path, note: dict[str, Any]) -> None:
        """Record the result, then tell Optuna; every step survives a dropped connection."""
        tflite = (out_dir / "model.tflite").read_bytes() if result.status == TrialStatus.OK else None
        constraints = constraint_values(rt.cfg, result, rt.profiles)
        def set_constraints() -> None:
            for key, value in constraints.items():
                trial.set_constraint(key, value)

        self._db(set_constraints, f"trial {trial.number} constraints")

        def record() -> int:
            with self.sessions() as session:
                if not is_recorded(session, row.id, trial.number):  # a commit whose answer was lost
                    record_result(session, row, rt.cfg, trial.number, result, rt.profiles, tflite, self.name,
                                  note=note)
                return finish_if_done(session, row)

        n_done = self._db(record, f"record trial {trial.number} (its result is in {out_dir}/trial.json)")
        if result.status == TrialStatus.STOPPED:  # no objective values: it was never exported
            self._db(lambda: rt.study.tell(trial, state=optuna.trial.TrialState.PRUNED, skip_if_finished=True),
                     f"tell trial {trial.number}")
        else:
            values = objective_values(rt.cfg, result)
            self._db(lambda: rt.study.tell(trial, values, skip_if_finished=True), f"tell trial {trial.number}")
        start = note.get("starting_point")
        log.info("trial %d/%d [%s] #%d %s%s", n_done, row.budget, self.name, trial.number,
                 result.summary(rt.cfg.devices[0]), f" (starting point {start})" if start else "")

    def _record_failure(self, rt: StudyRuntime, row: StudyRow, trial: optuna.Trial, candidate: dict[str, Any],
                        reason: str) -> None:
        with self.sessions() as session:
            if not is_recorded(session, row.id, trial.number):
                record_failure(session, row, trial.number, candidate, reason, self.name, note=note_of(trial))
            finish_if_done(session, row)
        rt.study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)


def _worker_main(db_url: str, study_name: str | None, artifacts: str, cache_dir: str, n_workers: int,
                 index: int, verbose: bool, options: WorkerOptions) -> None:
    setup_logging(verbose)
    set_torch_threads(n_workers)
    Worker(db_url, study_name=study_name, artifacts=Path(artifacts), cache_dir=Path(cache_dir),
           name=f"w{index}", options=options).run()


def run_local_workers(db_url: str, study_name: str | None, n_workers: int, *, artifacts: Path = Path("runs"),
                      cache_dir: Path = Path(".nas_cache"), options: WorkerOptions = WorkerOptions()) -> None:
    """Run ``n_workers`` worker processes on this machine until the studies' budgets are spent."""
    ctx = mp.get_context("spawn")
    verbose = logging.getLogger("nas").getEffectiveLevel() <= logging.DEBUG
    procs = [ctx.Process(target=_worker_main, name=f"nas-worker-{i}",
                         args=(db_url, study_name, str(artifacts), str(cache_dir), n_workers, i + 1, verbose,
                               options))
             for i in range(n_workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    bad = [p.name for p in procs if p.exitcode not in (0, None)]
    if bad:
        log.warning("worker(s) exited with an error: %s", ", ".join(bad))
