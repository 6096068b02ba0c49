"""Shared fixtures: paths, a small synthetic dataset and tiny candidates; every storage test runs on a
fresh SQLite file and a fresh PostgreSQL database (``db_url``)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


def shared_dir() -> Path:
    return Path(os.environ.get("NAS_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def tiny_space_path() -> Path:
    return FIXTURES / "tiny_space.yaml"


@pytest.fixture(scope="session")
def small_dataset():
    from nas.data import SyntheticSource

    return SyntheticSource(n_clips=160, seed=1).load()


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    import torch

    torch.set_num_threads(1)


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
