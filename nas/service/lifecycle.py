"""Deleting a study: its rows in the service's tables and its Optuna study (files under ``runs/`` stay)."""

from __future__ import annotations

import logging

import optuna
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from nas.errors import ConfigError, NotFoundError
from nas.status import StudyStatus
from nas.study.sampler import optuna_storage
from nas.study.tables import FrontHistoryRow, ParetoPointRow, StudyRow, TrialRow

log = logging.getLogger(__name__)


def delete_study(session: Session, db_url: str, name: str, *, force: bool = False) -> None:
    """Delete study ``name``. Refused while it runs or while trials claimed by workers are under way
    (they would be recorded against a study that no longer exists): stop it, then delete it. ``force``
    skips the second check (a claim of a worker that was killed after the study was stopped stays).

    Raises:
        NotFoundError: no such study. ConfigError: it is running or has trials under way.
    """
    row = session.scalars(select(StudyRow).where(StudyRow.name == name)).first()
    if row is None:
        raise NotFoundError(f"no study named '{name}'")
    if row.status == StudyStatus.RUNNING:
        raise ConfigError(f"study '{name}' is running: stop it first (POST /api/studies/{name}/stop or "
                          f"nas study stop {name}), then delete it")
    finished = session.scalar(select(func.count()).select_from(TrialRow).where(TrialRow.study_id == row.id)) or 0
    under_way = min(row.claimed, row.budget) - finished
    if under_way > 0 and not force:
        raise ConfigError(f"study '{name}' has {under_way} claimed trial(s) not recorded yet: delete it when they "
                          "are, or with force=true once no worker runs them")
    for table in (ParetoPointRow, FrontHistoryRow, TrialRow):  # measurements and artifacts cascade from trials
        session.execute(delete(table).where(table.study_id == row.id))
    session.delete(row)
    session.commit()
    try:
        optuna.delete_study(study_name=name, storage=optuna_storage(db_url))
    except KeyError:
        log.info("study %s had no Optuna study", name)
