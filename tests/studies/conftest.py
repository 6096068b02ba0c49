"""Storage fixtures: every storage test runs on a fresh SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

PG_SERVER = os.environ.get("NAS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


@pytest.fixture
def pg_url():
    """A PostgreSQL database created for one test and dropped after it (skips without a server)."""
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        conn = admin.connect()
    except OperationalError as e:
        pytest.skip(f"PostgreSQL at {PG_SERVER} is unreachable ({str(e).splitlines()[0]}); "
                    f"set NAS_TEST_PG to a server URL")
    name = f"nas_test_{uuid.uuid4().hex[:12]}"
    conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.close()
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """The same test on SQLite (one machine) and PostgreSQL (many workers)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nas.db'}"
    return request.getfixturevalue("pg_url")
