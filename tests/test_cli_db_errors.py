"""Issue 18, case 6: a database that cannot be opened is one line naming the URL (never its password) and the
cause, for every command and for ``nas serve``; read-only commands never create a database."""

from __future__ import annotations

import os
import sqlite3

import pytest

from nas.cli import main

PG_DOWN = "postgresql+psycopg://nas:s3cret-pw@127.0.0.1:1/nas"  # nothing listens on port 1


def _bad_urls(tmp_path) -> dict[str, tuple[str, str]]:
    (tmp_path / "text.db").write_text("not a database\n" * 100)
    return {"directory": (f"sqlite:///{tmp_path}", "is a directory"),
            "not sqlite": (f"sqlite:///{tmp_path / 'text.db'}", "not a SQLite file"),
            "postgres down": (PG_DOWN, "127.0.0.1"),
            "nonsense": ("nonsense://x", "nonsense")}


@pytest.mark.parametrize("case", ["directory", "not sqlite", "postgres down", "nonsense"])
@pytest.mark.parametrize("command", [["study", "list"], ["study", "show", "x"], ["study", "create", "x"],
                                     ["token", "list"], ["db", "status"]])
def test_database_errors_are_one_line_with_the_url_and_cause(tmp_path, capsys, case, command):
    url, cause = _bad_urls(tmp_path)[case]
    assert main([*command, "--db", url]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and cause in err, err
    assert "s3cret-pw" not in err


def test_nas_serve_reports_a_bad_database_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NAS_API_TOKEN", "serve-db-token-0123456789")
    assert main(["serve", "--db", PG_DOWN, "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot open database postgresql+psycopg://nas:***@127.0.0.1:1/nas" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_a_read_only_database_file(tmp_path, capsys):
    db = tmp_path / "ro.db"
    sqlite3.connect(db).close()
    db.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        assert main(["study", "create", "x", "--db", f"sqlite:///{db}"]) == 2
        assert "not writable" in capsys.readouterr().err
    finally:
        tmp_path.chmod(0o755)


@pytest.mark.parametrize("command", [["study", "list"], ["study", "show", "x"], ["study", "stop", "x"],
                                     ["token", "list"], ["datasets", "list"], ["db", "status"]])
def test_read_only_commands_never_create_a_database(tmp_path, capsys, command):
    db = tmp_path / "typo" / "nas.db"
    assert main([*command, "--db", f"sqlite:///{db}"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not db.exists() and not db.parent.exists()
