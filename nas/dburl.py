"""What can go wrong opening a database URL, said in one line: the URL (its password hidden) and the cause.

``make_engine`` calls :func:`check_url` before it connects and :func:`open_error` on any failure while it
connects and migrates: a read-only or non-SQLite file, a directory, PostgreSQL down, ``nonsense://x``.
With ``create=False`` (read-only commands: ``study list``, ``study show``...) a SQLite file that does not
exist is an error, never an empty new database.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from nas.errors import StorageError

EXAMPLES = "e.g. sqlite:///runs/nas.db or postgresql+psycopg://user@host/db"


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as e:
        raise StorageError(f"database URL '{url[:200]}' is not a database URL ({EXAMPLES})") from e


def shown(url: str) -> str:
    """``url`` as it may be printed: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url[:200]


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL (None: in memory, or not SQLite)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def check_url(url: str, *, create: bool) -> None:
    """Refuse what needs no connection to refuse; with ``create``, make a SQLite file's folder.

    Raises:
        StorageError: not a URL, a SQLite path that is a directory, or a missing file with ``create=False``.
    """
    path = sqlite_file(parse_url(url))
    if path is None:
        return
    if path.is_dir():
        raise StorageError(f"database {shown(url)}: '{path}' is a directory, not a SQLite file")
    if not path.exists():
        if not create:
            raise StorageError(f"database {shown(url)}: no such file (this command does not create one; "
                               "check --db / NAS_DB)")
        path.parent.mkdir(parents=True, exist_ok=True)


def open_error(url: str, e: Exception) -> StorageError:
    """The one-line error for a failure to load the driver, connect or migrate."""
    orig = getattr(e, "orig", None) if isinstance(e, SQLAlchemyError) else None
    cause = str(orig or e).strip().splitlines()[0] if str(orig or e).strip() else type(e).__name__
    hint = ""
    if "readonly" in cause or "read-only" in cause:
        hint = " (the file or its folder is not writable)"
    elif "not a database" in cause:
        hint = " (not a SQLite file)"
    return StorageError(f"cannot open database {shown(url)}: {cause}{hint}")
