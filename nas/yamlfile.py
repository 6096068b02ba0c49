"""Finding and reading the project's YAML files (search spaces, hardware profiles).

A name (``demo``) means ``<folder>/demo.yaml``; anything ending in ``.yaml``/``.yml`` is a path. Syntax
errors come back as :class:`ConfigError` naming the file, line and column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nas.errors import ConfigError, NotFoundError


def names(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yaml"))


def locate(name_or_path: str | Path, folder: Path, kind: str) -> Path:
    """The file for a shipped ``kind`` by name, or the given path; NotFoundError lists what exists."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = folder / f"{name_or_path}.yaml"
        if not path.is_file():
            raise NotFoundError(f"unknown {kind} '{name_or_path}': available: {', '.join(names(folder))}")
    elif not path.is_file():
        raise NotFoundError(f"{kind} file not found: {path}")
    return path


def read(path: Path) -> Any:
    """Parse ``path``; malformed YAML is a ConfigError with the line and column."""
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: malformed YAML: {getattr(e, 'problem', None) or e}") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e}") from e
