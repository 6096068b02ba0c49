"""Options several commands share: the database, the artifacts folder, devices, spaces, objectives.

Nothing here imports torch: ``nas --help`` and the parsers of every command stay fast, and each command
imports the stages it needs when it runs.
"""

from __future__ import annotations

import argparse
import os

from sqlalchemy.orm import Session, sessionmaker

from nas import yamlfile
from nas.hardware.profiles import profiles_dir
from nas.study.config import OBJECTIVES, SAMPLERS

DEFAULT_DB = "sqlite:///runs/nas.db"
DEFAULT_DEVICE = "nucleo-l4r5zi"


def default_db() -> str:
    return os.environ.get("NAS_DB") or DEFAULT_DB


def add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=default_db(), metavar="URL",
                   help=f"database URL, e.g. postgresql+psycopg://user@host/db (default $NAS_DB or {DEFAULT_DB})")


def add_artifacts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--artifacts", default="runs", metavar="DIR",
                   help="folder for .tflite files and trial logs (default runs)")


def device_help(what: str) -> str:
    return f"{what}: one of {', '.join(yamlfile.names(profiles_dir()))}, or a profile YAML path"


def space_help() -> str:
    return f"search space: one of {', '.join(yamlfile.names(yamlfile.shipped('search_spaces')))}, or a YAML path"


def add_sampler(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sampler", choices=SAMPLERS, help="Optuna sampler (default nsga2)")


def add_objective(p: argparse.ArgumentParser) -> None:
    p.add_argument("--objective", action="append", choices=list(OBJECTIVES), metavar="NAME",
                   help=f"objective, repeatable (accuracy is maximised, the rest minimised): one of "
                        f"{', '.join(OBJECTIVES)} (default accuracy, latency_ms, ram_kb)")


def sessions(url: str, *, create: bool = False) -> sessionmaker[Session]:
    """A session factory on ``url``. Only commands that make something (``create``) may create a SQLite
    file: a mistyped ``--db`` of ``study list`` is an error, not a new empty database."""
    from nas.study.tables import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(url, create=create))
