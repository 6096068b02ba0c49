"""Where a study's trial files go: ``ARTIFACTS/<study>/trial-NNNN/``, in a folder this study owns.

Two databases may each hold a study of the same name (a laptop's SQLite file and the cluster's
PostgreSQL), and their workers may share one artifacts folder. The first study to use ``<study>/``
claims it with a marker file (``.nas-study``) holding the study's identity, its name and creation time
(the same on every machine, whatever URL spells the database); another study of that name, or a folder
with files nas did not write for a study, gets ``<study>@<8 hex digits of its identity>/`` instead. So a
file the project did not write in this study is never overwritten.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from pathlib import Path

from nas.errors import ConfigError

log = logging.getLogger(__name__)

MARKER = ".nas-study"


def study_identity(name: str, created_at: dt.datetime) -> str:
    return f"study {name} created {created_at.isoformat()}"


def _candidates(artifacts: Path, name: str, identity: str) -> tuple[Path, Path]:
    return artifacts / name, artifacts / f"{name}@{hashlib.sha256(identity.encode()).hexdigest()[:8]}"


def _owner(folder: Path) -> str | None:
    try:
        return (folder / MARKER).read_text().strip()
    except FileNotFoundError:
        return None


def _claim(folder: Path, identity: str) -> bool:
    """True when ``folder`` is (now) this study's: its marker names it, or it was empty and got the marker."""
    owner = _owner(folder)
    if owner is not None:
        return owner == identity
    if folder.is_dir() and any(folder.iterdir()):
        return False  # files nas did not write for a study (or an older nas wrote them): leave them
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{MARKER}.{os.getpid()}"
    tmp.write_text(identity + "\n")
    try:
        os.link(tmp, folder / MARKER)  # atomic: of two studies claiming at once, one links first
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return _owner(folder) == identity


def study_dir(artifacts: Path, name: str, created_at: dt.datetime) -> Path:
    """The folder of the trial files of study ``name`` created at ``created_at`` (claimed on first use).

    Raises:
        ConfigError: both candidate folders belong to others (a hash collision of two identities); the
            worker marks the study failed with this reason.
    """
    identity = study_identity(name, created_at)
    plain, own = _candidates(Path(artifacts), name, identity)
    if _claim(plain, identity):
        return plain
    if _claim(own, identity):
        log.info("%s holds files of another study named %s: this one writes to %s", plain, name, own)
        return own
    raise ConfigError(f"artifacts: both {plain} and {own} hold files of other studies; use another --artifacts")


def find_study_dir(artifacts: Path, name: str, created_at: dt.datetime) -> Path | None:
    """The folder study ``name`` claimed, if any (nothing is created)."""
    identity = study_identity(name, created_at)
    return next((f for f in _candidates(Path(artifacts), name, identity) if _owner(f) == identity), None)
