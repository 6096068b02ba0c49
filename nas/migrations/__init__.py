"""Migrations of the service's own tables (Alembic), beside Optuna's in the same database.

The version is kept in ``nas_alembic_version`` (Optuna keeps its own ``alembic_version``). Revisions live in
``versions/``; each says whether it only adds (``ADDITIVE = True``: new tables, indexes, nullable columns).
:func:`upgrade` brings a database to the head revision; ``make_engine`` runs it with ``auto=True`` (what
``nas serve``, ``nas worker`` and every command do on start), which applies additive revisions only and
otherwise asks for ``nas db upgrade`` with the workers stopped. Concurrent starts take a lock (a PostgreSQL
advisory lock, a lock file beside a SQLite file) so one process migrates and the others wait.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from nas.errors import StorageError

log = logging.getLogger(__name__)

VERSION_TABLE = "nas_alembic_version"
_LOCK_KEY = 0x6E61735F6D6967  # "nas_mig": the PostgreSQL advisory lock of the migration


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # None: no version recorded (a new database, or one made before migrations)
    head: str
    pending: tuple[str, ...]  # revisions to apply, oldest first

    @property
    def up_to_date(self) -> bool:
        return not self.pending


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "nas:migrations")
    return cfg


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def state(engine: Engine) -> SchemaState:
    """Where the database stands against this version of ``nas``.

    Raises:
        StorageError: the database is at a revision this ``nas`` does not know (a newer release made it).
    """
    script = _script()
    head = script.get_current_head()
    assert head is not None
    with engine.connect() as conn:
        current = _current(conn)
    known = {r.revision for r in script.walk_revisions()}
    if current is not None and current not in known:
        raise StorageError(f"the database's schema is at revision '{current}', newer than this nas knows "
                           f"(head {head}): upgrade nas on this machine")
    pending = [r.revision for r in script.iterate_revisions(head, current)]
    return SchemaState(current, head, tuple(reversed(pending)))


def _is_additive(revision: str) -> bool:
    module = _script().get_revision(revision).module
    return bool(getattr(module, "ADDITIVE", False))


@contextlib.contextmanager
def _lock(engine: Engine) -> Iterator[None]:
    """One migrating process at a time."""
    db = engine.url.database
    if engine.dialect.name == "sqlite" and db and db != ":memory:":
        with open(f"{db}.migrate.lock", "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                conn.commit()
    else:
        yield


def upgrade(engine: Engine, *, auto: bool = False) -> SchemaState:
    """Apply the pending revisions; returns the state before. With ``auto``, only additive ones.

    Raises:
        StorageError: ``auto`` and a pending revision changes existing tables; or the database is newer.
    """
    before = state(engine)
    if before.up_to_date:
        return before
    with _lock(engine):
        before = state(engine)  # another process may have migrated while this one waited
        if before.up_to_date:
            return before
        if auto:
            unsafe = [r for r in before.pending if not _is_additive(r)]
            if unsafe:
                raise StorageError(f"the database needs migration(s) {', '.join(unsafe)} that change existing "
                                   "tables: stop every worker and server, back the database up, then run "
                                   "'nas db upgrade --db URL'")
        existing = before.current is not None or inspect(engine).has_table("nas_studies")
        _run(engine, before.head)
        log.log(logging.INFO if existing else logging.DEBUG,  # a new database is no news
                "database schema upgraded %s -> %s (%s)", before.current or "unversioned", before.head,
                ", ".join(before.pending))
    return before


def _run(engine: Engine, destination: str) -> None:
    cfg = _config()
    script = ScriptDirectory.from_config(cfg)

    def fn(rev, _context):
        return script._upgrade_revs(destination, rev)

    with engine.begin() as conn, EnvironmentContext(cfg, script, fn=fn, destination_rev=destination) as env:
        env.configure(connection=conn, version_table=VERSION_TABLE, target_metadata=None)
        with env.begin_transaction():
            env.run_migrations()
