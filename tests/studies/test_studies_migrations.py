"""Schema migrations of the service's tables (``nas.migrations``), on SQLite and PostgreSQL: a database made by
the previous release's schema (a frozen copy of 5042fa2's ``nas/db.py``) upgrades in place, keeping its rows and
Optuna's own version table; a fresh one migrates to exactly the models; unsafe or unknown revisions are refused."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from nas import migrations
from nas.cli import main
from nas.errors import StorageError
from nas.service import datasets as ds
from nas.study.tables import Base, make_engine, make_sessionmaker

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nas.db'}"
    return request.getfixturevalue("pg_url")


HEAD = "0006"  # the newest revision in nas/migrations/versions

def _old_schema():
    if "schema_5042fa2" not in sys.modules:
        path = REPO / "tests" / "fixtures" / "schema_5042fa2.py"
        spec = importlib.util.spec_from_file_location("schema_5042fa2", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["schema_5042fa2"] = module  # its annotations resolve through the module's name
        spec.loader.exec_module(module)
    return sys.modules["schema_5042fa2"]


def _previous_release_db(url: str, *, drop_indexes: bool = False) -> None:
    """What 5042fa2 left: its tables (create_all), a study with a trial, a token, and an Optuna study."""
    old = _old_schema()
    engine = old.make_engine(url)
    with engine.begin() as c:
        c.execute(text("INSERT INTO nas_studies (name, config, status, budget, claimed, owner, created_at, "
                       "updated_at) VALUES ('old', '{\"devices\": [\"nrf52840\"]}', 'finished', 1, 1, '', "
                       "'2026-01-01', '2026-01-01')"))
        c.execute(text("INSERT INTO nas_trials (study_id, number, status, candidate, family, arch, frontend, bits, "
                       "prune_ratio, feasible, details, worker, finished_at) VALUES (1, 0, 'ok', '{}', 'cnn', "
                       "'cnn()', '', 8, 0.0, true, '{}', 'w', '2026-01-01')"))
        c.execute(text("INSERT INTO nas_api_tokens (name, token_sha256, created_at) VALUES ('ci', 'ab', '2026-01-01')"))
        if drop_indexes:  # a database from before the sort indexes were added
            for k in ("accuracy", "latency_ms", "summary"):
                c.execute(text(f"DROP INDEX ix_nas_trials_study_{k}"))
    engine.dispose()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name="old", storage=url, directions=["maximize", "minimize"])


def _schema_diff(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as c:
        ours = [t for t in Base.metadata.sorted_tables]
        diff = compare_metadata(MigrationContext.configure(c, opts={"include_object": lambda o, n, t, r, _:
                                t != "table" or n.startswith("nas_") and n != migrations.VERSION_TABLE}), Base.metadata)
    engine.dispose()
    assert ours
    return diff


def test_fresh_database_migrates_to_exactly_the_models(url):
    engine = make_engine(url)
    assert migrations.state(engine).up_to_date and migrations.state(engine).current == HEAD
    engine.dispose()
    assert _schema_diff(url) == []


def test_previous_release_database_upgrades_in_place(url, capsys):
    _previous_release_db(url, drop_indexes=True)
    optuna_version = create_engine(url).connect().execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert main(["db", "status", "--db", url]) == 0
    assert "pending 0001, 0002, 0003, 0004" in capsys.readouterr().out
    assert main(["db", "upgrade", "--db", url]) == 0
    assert f"upgraded from no recorded revision to {HEAD}" in capsys.readouterr().out
    assert _schema_diff(url) == []  # the missing indexes were created too
    engine = make_engine(url)
    with engine.connect() as c:
        assert c.execute(text("SELECT name, status FROM nas_studies")).all() == [("old", "finished")]
        assert c.execute(text("SELECT count(*) FROM nas_trials")).scalar() == 1
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == optuna_version
        assert c.execute(text(f"SELECT version_num FROM {migrations.VERSION_TABLE}")).scalar() == HEAD
    assert "ix_nas_trials_study_accuracy" in {i["name"] for i in inspect(engine).get_indexes("nas_trials")}
    with make_sessionmaker(engine)() as s:  # the new table works
        assert ds.add_dataset(s, "syn", "synthetic:40").clips == 42  # at least 3 per class
    assert optuna.load_study(study_name="old", storage=url).directions  # Optuna still reads its study
    assert main(["db", "upgrade", "--db", url]) == 0 and f"already at {HEAD}" in capsys.readouterr().out
    engine.dispose()


def test_workers_and_servers_upgrade_by_themselves(url):
    """make_engine (every command, nas serve, nas worker) applies additive revisions on start."""
    _previous_release_db(url)
    engine = make_engine(url)
    assert migrations.state(engine).up_to_date and "nas_datasets" in inspect(engine).get_table_names()
    engine.dispose()


def test_unsafe_revision_waits_for_nas_db_upgrade(url, monkeypatch, capsys):
    _previous_release_db(url)
    monkeypatch.setattr(migrations, "_is_additive", lambda rev: rev != "0002")
    with pytest.raises(StorageError, match="migration.*0002.*nas db upgrade"):
        make_engine(url)
    assert main(["db", "upgrade", "--db", url]) == 0  # the operator's explicit upgrade runs it
    assert f"to {HEAD}" in capsys.readouterr().out


def test_database_newer_than_this_release_is_refused(url, capsys):
    make_engine(url).dispose()
    with create_engine(url).begin() as c:
        c.execute(text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = '0099'"))
    with pytest.raises(StorageError, match="revision '0099', newer than this nas knows"):
        make_engine(url)
    assert main(["study", "list", "--db", url]) == 2
    assert "newer than this nas knows" in capsys.readouterr().err


def test_concurrent_starts_migrate_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    code = f"from nas.study.tables import make_engine; make_engine({url!r}).dispose()"
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    assert _schema_diff(url) == []
