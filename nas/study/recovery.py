"""Keeping a study's budget exact when a worker dies or the database drops its connection.

* ``with_db_retry`` retries a database operation with exponential backoff on connection errors
  (not on integrity errors: those are answers, not outages).
* ``TrialHeartbeat`` records a trial's heartbeat from a thread while the trial runs (Optuna does
  this only inside ``study.optimize``; workers use ask/tell).
* ``StaleTrialHandler`` is the storage's stale-trial callback. Optuna calls it exactly once per
  trial whose heartbeat stopped (the first worker to fail the trial wins). It re-enqueues the same
  parameters and gives the trial's slot back to the budget, or, once the retries are spent, records
  the trial as failed (its slot consumed). Either way ``nas_trials`` ends with exactly ``n_trials`` rows.
* ``LeakWatch`` covers a worker killed between claiming a slot and starting its trial:
  no heartbeat exists for it, so a slot is given back when the same leak is seen twice, a grace apart.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import optuna
from optuna.trial import TrialState
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from nas.errors import StorageError
from nas.study.sampler import STARTING_POINT_ATTR
from nas.study.store import finish_if_done, is_recorded, leaked_slots, record_failure, release_leaked_slots
from nas.study.tables import StudyRow

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRIES_ATTR = "retries"
RETRY_OF_ATTR = "retry_of"
CANDIDATE_ATTR = "candidate"


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for database operations: ``base_s * 2**attempt`` seconds, capped at ``max_s``."""

    attempts: int = 10
    base_s: float = 0.5
    max_s: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.max_s, self.base_s * 2 ** attempt)


def _is_connection_error(e: BaseException) -> bool:
    cause = e if isinstance(e, DBAPIError) else e.__cause__
    return isinstance(cause, DBAPIError) and not isinstance(cause, IntegrityError)


def with_db_retry(fn: Callable[[], T], what: str, policy: RetryPolicy = RetryPolicy()) -> T:
    """Run ``fn`` (which opens its own session), retrying on a lost or refused connection.

    Raises:
        StorageError: the database stayed unreachable for all attempts.
    """
    for attempt in range(policy.attempts):
        try:
            return fn()
        except (DBAPIError, optuna.exceptions.StorageInternalError) as e:
            if not _is_connection_error(e):
                raise
            if attempt + 1 == policy.attempts:
                raise StorageError(f"{what}: the database stayed unreachable after {policy.attempts} attempts "
                                   f"({type(e).__name__}); check the server and the URL, then restart the "
                                   f"worker") from e
            delay = policy.delay(attempt)
            log.warning("%s: database error (%s); retry %d/%d in %.1f s", what,
                        str(e).splitlines()[0][:200], attempt + 1, policy.attempts - 1, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


class HeartbeatStorage(Protocol):
    """What :class:`TrialHeartbeat` needs: an ``RDBStorage``, or the cache a ``Study`` wraps it in."""

    def record_heartbeat(self, trial_id: int) -> None: ...


class TrialHeartbeat:
    """Records ``trial_id``'s heartbeat now and then every ``interval_s`` until ``stop()``."""

    def __init__(self, storage: HeartbeatStorage, trial_id: int, interval_s: float):
        self.storage, self.trial_id, self.interval_s = storage, trial_id, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{trial_id}", daemon=True)

    def start(self) -> TrialHeartbeat:
        with_db_retry(lambda: self.storage.record_heartbeat(self.trial_id), "first heartbeat")
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception as e:  # an outage: the main thread's retries report it
                log.debug("heartbeat of trial %d not recorded: %s", self.trial_id, e)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class StaleTrialHandler:
    """Retry a lost trial with the same parameters, or record it failed after ``max_retries``."""

    def __init__(self, sessions: sessionmaker, study_name: str, *, max_retries: int = 1, worker: str = ""):
        self.sessions, self.study_name = sessions, study_name
        self.max_retries, self.worker = max_retries, worker

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        with_db_retry(lambda: self._handle(study, trial), f"recover trial {trial.number}")

    def _handle(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        with self.sessions() as session:
            row = session.scalars(select(StudyRow).where(StudyRow.name == self.study_name)).one()
            if is_recorded(session, row.id, trial.number):
                log.warning("trial %d was recorded before its worker was lost; not retried", trial.number)
                return
            retries = int(trial.user_attrs.get(RETRIES_ATTR, 0))
            origin = int(trial.user_attrs.get(RETRY_OF_ATTR, trial.number))
            lost_by = trial.user_attrs.get("worker", "?")
            if retries < self.max_retries:
                study.enqueue_trial(trial.params, user_attrs={RETRIES_ATTR: retries + 1, RETRY_OF_ATTR: origin})
                session.execute(update(StudyRow).where(StudyRow.id == row.id, StudyRow.claimed > 0)
                                .values(claimed=StudyRow.claimed - 1))
                session.commit()
                log.warning("trial %d lost with worker %s (no heartbeat); re-enqueued (retry %d of %d)",
                            trial.number, lost_by, retries + 1, self.max_retries)
                return
            reason = (f"lost with worker {lost_by} (no heartbeat) on its last attempt ({retries} retries "
                      f"spent); giving up")
            record_failure(session, row, trial.number, dict(trial.user_attrs.get(CANDIDATE_ATTR, {})), reason,
                           self.worker, note={RETRY_OF_ATTR: origin} if retries else None)
            finish_if_done(session, row)
            log.warning("trial %d recorded as failed: %s", trial.number, reason)


def fail_lost_trials(study: optuna.Study) -> None:
    """Fail the trials whose heartbeat stopped; the storage's ``StaleTrialHandler`` takes it from there."""
    with warnings.catch_warnings():  # experimental in Optuna 5; relied on knowingly
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def active_trials(study: optuna.Study) -> int:
    """Trials under way or waiting to be run (enqueued retries)."""
    return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)))


class LeakWatch:
    """Gives back claimed slots that have neither a recorded nor an active trial (a worker killed between
    claiming a slot and starting its trial leaves no heartbeat): once the same leak is seen ``grace_s`` apart."""

    def __init__(self, grace_s: float):
        self.grace_s = grace_s
        self._seen: dict[int, tuple[int, int, float]] = {}  # study id -> (claimed, leaked, first seen)

    def check(self, session: Session, study_id: int, active: int) -> None:
        claimed, leaked = leaked_slots(session, study_id, active)
        if leaked <= 0:
            self._seen.pop(study_id, None)
            return
        seen = self._seen.get(study_id)
        if seen is None or seen[:2] != (claimed, leaked):
            self._seen[study_id] = (claimed, leaked, time.monotonic())
        elif time.monotonic() - seen[2] > self.grace_s:
            release_leaked_slots(session, study_id, claimed, leaked)
            self._seen.pop(study_id, None)


def note_of(trial: optuna.trial.Trial | optuna.trial.FrozenTrial) -> dict[str, Any]:
    """What the record of a (re-run) trial keeps about its origin."""
    origin = trial.user_attrs.get(RETRY_OF_ATTR)
    note: dict[str, Any] = {} if origin is None else {RETRY_OF_ATTR: int(origin)}
    if trial.user_attrs.get(STARTING_POINT_ATTR):
        note["starting_point"] = str(trial.user_attrs[STARTING_POINT_ATTR])
    return note
