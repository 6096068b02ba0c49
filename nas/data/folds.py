"""Shared parts of the fold-based benchmarks (ESC-50, UrbanSound8K): metadata CSV and fold splits.

Both ship clips cut from longer recordings and keep every recording's clips in one fold, so the
validation split is a whole fold too (the one after the test fold): a random split would put
slices of one recording on both sides and overstate accuracy.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from nas.data.builder import require_file
from nas.errors import ConfigError, DataError


def read_metadata(path: Path, required: tuple[str, ...], what: str) -> list[dict[str, str]]:
    """Rows of a metadata CSV; a DataError names the file and any missing column."""
    require_file(path, f"{what} metadata", "it lists every clip with its class and fold")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            absent = [c for c in required if c not in columns]
            if absent:
                raise DataError(f"{path}: missing column(s) {', '.join(absent)}; found {', '.join(columns)}")
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: not a readable CSV file ({e})") from e
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def parse_fold(text: str, n_folds: int) -> int | None:
    try:
        fold = int(text)
    except ValueError:
        return None
    return fold if 1 <= fold <= n_folds else None


def fold_rule(test_fold: int, n_folds: int) -> Callable[[int], str]:
    """fold -> split: ``test_fold`` is test, the next fold (cyclic) valid, the others train."""
    if not 1 <= test_fold <= n_folds:
        raise ConfigError(f"test fold {test_fold} is not in 1..{n_folds}")
    valid_fold = test_fold % n_folds + 1
    return lambda fold: "test" if fold == test_fold else "valid" if fold == valid_fold else "train"


def class_names_by_id(rows: list[dict[str, str]], id_col: str, name_col: str, path: Path) -> dict[int, str]:
    """{class id: class name} from metadata rows; a DataError if the file contradicts itself."""
    names: dict[int, str] = {}
    for i, row in enumerate(rows, start=2):
        try:
            cid = int(row[id_col])
        except (TypeError, ValueError):
            raise DataError(f"{path} line {i}: {id_col} {row[id_col]!r} is not an integer") from None
        if names.setdefault(cid, row[name_col]) != row[name_col]:
            raise DataError(f"{path} line {i}: {id_col} {cid} is both {names[cid]!r} and {row[name_col]!r}")
    return dict(sorted(names.items()))
