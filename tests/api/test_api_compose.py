"""docker-compose.yml and the Dockerfile, checked without a Docker engine: every service's command is
a real ``nas`` command (parsed by the project's own argparse parser), the worker scales, the API
gets its token from the environment, and the files the Dockerfile copies exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from nas.cli import build_parser
from nas.cli.api import cmd_serve
from nas.cli.studies import cmd_worker

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _args(service: dict):
    cmd = service["command"]
    assert isinstance(cmd, list) and cmd[0] == "nas", cmd
    return build_parser().parse_args(cmd[1:])


def test_services_and_their_commands(compose):
    services = compose["services"]
    assert set(services) == {"db", "api", "worker"}
    api, worker = _args(services["api"]), _args(services["worker"])
    assert api.func is cmd_serve and worker.func is cmd_worker
    assert api.workers == 0 and api.host == "0.0.0.0" and api.port == 8000
    assert api.db == worker.db and api.db.startswith("postgresql+psycopg://") and "@db:5432/" in api.db
    assert services["api"]["ports"] == ["8000:8000"]


def test_database_service(compose):
    db = compose["services"]["db"]
    assert db["image"] == "postgres:16" and "pg_isready" in " ".join(db["healthcheck"]["test"])
    user, password, name = re.match(r"postgresql\+psycopg://(\w+):(\w+)@db:5432/(\w+)",
                                    _args(compose["services"]["api"]).db).groups()
    assert (db["environment"]["POSTGRES_USER"], db["environment"]["POSTGRES_PASSWORD"],
            db["environment"]["POSTGRES_DB"]) == (user, password, name)
    for svc in ("api", "worker"):
        assert compose["services"][svc]["depends_on"]["db"]["condition"] == "service_healthy"


def test_worker_scales_and_api_needs_a_token(compose):
    worker, api = compose["services"]["worker"], compose["services"]["api"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N must work
    assert worker["build"] == api["build"] == "." and worker["image"] == api["image"]
    assert api["environment"]["NAS_API_TOKEN"].startswith("${NAS_API_TOKEN:?")  # no default secret
    assert "NAS_API_TOKEN" not in worker["environment"]


def test_dockerfile_copies_what_exists():
    text = (REPO / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11" in text
    for line in text.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (REPO / src).exists(), f"Dockerfile copies missing {src}"
    # The image installs the hashed runtime lock, then the package itself as a wheel (its data inside).
    assert "--require-hashes" in text and "requirements/runtime.lock" in text and "-e ." not in text


def test_dockerignore_keeps_the_build_context_small():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".venv", "runs", ".nas_cache", ".git", "test-artifacts"} <= ignored
