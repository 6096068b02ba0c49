"""The service's own SQL tables (beside Optuna's, in the same database).

studies        config, status, trial budget and the slots claimed from it
trials         one row per finished trial: candidate, figures on the primary device, status, reason
measurements   per-device figures of a trial (CostReport as JSON plus the headline numbers)
artifacts      the ``.tflite`` file and logs of a trial (kilobytes: every worker can write them here)
pareto_points  the current Pareto front of a study per device
front_history  hypervolume of the front after each finished trial
cost_cache     precheck figures by cost key (frontend, architecture, prune ratio, bits, profile)
rungs          multi-fidelity: each candidate's result and promotion at each rung

``make_engine(url)`` is the one place a database URL becomes an engine (SQLite gets WAL and a busy
timeout so several worker processes share one file without "database is locked").
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from nas.status import StudyStatus, TrialStatus

SQLITE_BUSY_TIMEOUT_S = 60


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class StatusColumn(TypeDecorator[StrEnum]):
    """A status enum stored as its string (``VARCHAR(16)``, as before the enums): an unknown value is refused
    on write, and rows read back as the enum."""

    impl = String(16)
    cache_ok = True

    def __init__(self, enum: type[StrEnum]):
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


class StudyRow(Base):
    __tablename__ = "nas_studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[StudyStatus] = mapped_column(StatusColumn(StudyStatus), default=StudyStatus.CREATED)
    budget: Mapped[int] = mapped_column(Integer)
    claimed: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str] = mapped_column(String(128), default="")
    dataset_summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)  # one line, with status failed
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class TrialRow(Base):
    __tablename__ = "nas_trials"
    __table_args__ = (UniqueConstraint("study_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("nas_studies.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # Optuna trial number
    status: Mapped[TrialStatus] = mapped_column(StatusColumn(TrialStatus))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    candidate: Mapped[dict[str, Any]] = mapped_column(JSON)
    family: Mapped[str] = mapped_column(String(32), index=True)
    arch: Mapped[str] = mapped_column(String(256))
    frontend: Mapped[str] = mapped_column(String(128), default="")
    bits: Mapped[int] = mapped_column(Integer)
    prune_ratio: Mapped[float] = mapped_column(Float)
    accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    test_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    float_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    ram_kb: Mapped[float | None] = mapped_column(Float, nullable=True)
    flash_kb: Mapped[float | None] = mapped_column(Float, nullable=True)
    frontend_latency_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    macs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    params: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tflite_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    feasible: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # history, confusion, seconds
    worker: Mapped[str] = mapped_column(String(128), default="")
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class MeasurementRow(Base):
    __tablename__ = "nas_measurements"
    __table_args__ = (UniqueConstraint("trial_id", "device"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("nas_trials.id", ondelete="CASCADE"), index=True)
    device: Mapped[str] = mapped_column(String(64), index=True)
    deployable: Mapped[bool] = mapped_column(Boolean)
    latency_ms: Mapped[float] = mapped_column(Float)
    ram_kb: Mapped[float] = mapped_column(Float)
    flash_kb: Mapped[float] = mapped_column(Float)
    latency_source: Mapped[str] = mapped_column(String(16))
    ram_source: Mapped[str] = mapped_column(String(16))
    report: Mapped[dict[str, Any]] = mapped_column(JSON)


class ArtifactRow(Base):
    __tablename__ = "nas_artifacts"
    __table_args__ = (UniqueConstraint("trial_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("nas_trials.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # model.tflite | trial.json
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ParetoPointRow(Base):
    __tablename__ = "nas_pareto_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("nas_studies.id", ondelete="CASCADE"), index=True)
    device: Mapped[str] = mapped_column(String(64))
    trial_id: Mapped[int] = mapped_column(ForeignKey("nas_trials.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    values: Mapped[list[float]] = mapped_column(JSON)


class FrontHistoryRow(Base):
    __tablename__ = "nas_front_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("nas_studies.id", ondelete="CASCADE"), index=True)
    n_trials: Mapped[int] = mapped_column(Integer)
    front_size: Mapped[int] = mapped_column(Integer)
    hypervolume: Mapped[float] = mapped_column(Float)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def engine_kwargs(url: str) -> dict[str, Any]:
    """Engine options shared with Optuna's RDBStorage for the same URL."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    return {"pool_pre_ping": True}


class CostCacheRow(Base):
    """The untrained export's CostReport of one graph on one profile (``nas.pipeline.cost_key``)."""

    __tablename__ = "nas_cost_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(128))
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RungRow(Base):
    """One candidate at one rung of a multi-fidelity study (:mod:`nas.study.fidelity`): what it was ranked on and
    the decision. ``number`` is the trial the candidate first ran as (a re-run after a lost worker keeps it),
    so a rung is recorded once per candidate."""

    __tablename__ = "nas_rungs"
    __table_args__ = (UniqueConstraint("study_id", "number", "rung"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("nas_studies.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    rung: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer)
    val_accuracy: Mapped[float] = mapped_column(Float)
    costs: Mapped[list[float]] = mapped_column(JSON)  # the study's cost objectives, in its order
    promoted: Mapped[bool] = mapped_column(Boolean)
    competitors: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


def make_engine(url: str, *, migrate: bool = True, create: bool = True) -> Engine:
    """Create an engine for ``url`` and bring the service's tables to this version's schema.

    The tables are made and upgraded by the Alembic revisions in :mod:`nas.migrations` (additive ones
    only, automatically; others need ``nas db upgrade``); ``migrate=False`` leaves the database as it is.
    ``create=False``: a SQLite file must exist already (read-only commands never create one).

    Raises:
        StorageError: one line with the URL (password hidden) and the cause, when it cannot be opened.
    """
    from nas.dburl import check_url, open_error

    check_url(url, create=create)
    try:
        engine = create_engine(url, **engine_kwargs(url))
        if url.startswith("sqlite"):
            event.listen(engine, "connect", _sqlite_pragmas)
        with engine.connect():
            pass
        if migrate:
            from nas.migrations import upgrade

            upgrade(engine, auto=True)
    except (SQLAlchemyError, ImportError) as e:  # ImportError: a dialect whose driver is not installed
        raise open_error(url, e) from e
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


class ApiTokenRow(Base):
    """A named API token for writes; only its SHA-256 is stored (``nas token create NAME`` prints it once)."""

    __tablename__ = "nas_api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


# The trial table pages through thousands of trials of one study sorted by a figure: one index per
# sort key keeps it an index-only sort. The summary index covers study_info's counts and best values.
for _key in ("accuracy", "latency_ms", "ram_kb", "flash_kb", "params", "macs", "finished_at"):
    Index(f"ix_nas_trials_study_{_key}", TrialRow.study_id, getattr(TrialRow, _key))
Index("ix_nas_trials_study_summary", TrialRow.study_id, TrialRow.status, TrialRow.feasible, TrialRow.accuracy,
      TrialRow.latency_ms, TrialRow.ram_kb)
Index("ix_nas_pareto_study_device", ParetoPointRow.study_id, ParetoPointRow.device)


class DatasetRow(Base):
    """A dataset the operator registered by name (``nas datasets add`` or an upload): studies created over
    REST name it instead of a server path. ``summary`` is its index (classes, splits, counts)."""

    __tablename__ = "nas_datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    spec: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    uploaded: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str] = mapped_column(String(128), default="")
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
