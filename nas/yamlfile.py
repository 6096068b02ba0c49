"""Finding and reading the project's YAML files (search spaces, hardware profiles).

The shipped files are package data (``nas/search_spaces``, ``nas/hw_profiles``), read through
``importlib.resources`` so that an installed wheel finds them as a checkout does. A name (``demo``) means
``<folder>/demo.yaml``; anything ending in ``.yaml``/``.yml`` is a user's path. Syntax errors come back as
:class:`ConfigError` naming the file, line and column.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from nas.errors import ConfigError, NotFoundError


def shipped(folder: str) -> Traversable:
    """The folder of YAML files shipped inside the package, e.g. ``shipped("search_spaces")``."""
    return files("nas").joinpath(folder)


def yaml_files(folder: Traversable) -> list[Traversable]:
    return sorted((p for p in folder.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)


def names(folder: Traversable) -> list[str]:
    return [p.name.removesuffix(".yaml") for p in yaml_files(folder)]


def locate(name_or_path: str | Path, folder: Traversable, kind: str) -> Traversable:
    """The file for a shipped ``kind`` by name, or the given path; NotFoundError lists what exists."""
    text = str(name_or_path)
    if not text.endswith((".yaml", ".yml")):
        entry = folder.joinpath(f"{text}.yaml")
        if "/" in text or "\\" in text or not entry.is_file():
            raise NotFoundError(f"unknown {kind} '{text}': available: {', '.join(names(folder))}")
        return entry
    path = Path(name_or_path)
    if not path.is_file():
        raise NotFoundError(f"{kind} file not found: {path}")
    return path


def read(path: Traversable) -> Any:
    """Parse ``path``; malformed YAML is a ConfigError with the line and column."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: malformed YAML: {getattr(e, 'problem', None) or e}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from e
