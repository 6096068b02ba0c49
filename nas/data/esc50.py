"""ESC-50 environmental sounds: ``meta/esc50.csv`` + ``audio/*.wav``, 50 classes, 5 folds.

Clips are 5 s at 44.1 kHz; they are resampled to 16 kHz here (microcontroller frontends do not
go higher). ``esc10`` selects the 10-class subset the CSV flags. Fold ``k`` is the test split and
fold ``k+1`` validation (see :mod:`nas.data.folds`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from nas.data.audio import AUDIO_SUFFIXES
from nas.data.base import AudioDataset, DatasetSource
from nas.data.builder import DatasetBuilder, audio_files, require_dir
from nas.data.folds import class_names_by_id, fold_rule, parse_fold, read_metadata

log = logging.getLogger(__name__)

N_FOLDS = 5
COLUMNS = ("filename", "fold", "target", "category")


class ESC50Source(DatasetSource):
    """ESC-50 (or ESC-10 with ``esc10=True``) at ``root``, ``test_fold`` held out for test."""

    def __init__(self, root: str | Path, *, test_fold: int = 1, esc10: bool = False,
                 sample_rate: int = 16000, seed: int = 0):
        self.root, self.test_fold, self.esc10 = Path(root), test_fold, esc10
        self.sample_rate, self.seed = sample_rate, seed
        self.name = "esc10" if esc10 else "esc50"
        fold_rule(test_fold, N_FOLDS)  # a ConfigError now rather than at load time

    def describe(self) -> str:
        return f"{self.name}:{self.root}:{self.test_fold}"

    def load(self) -> AudioDataset:
        root = require_dir(self.root, "ESC-50")
        meta = root / "meta" / "esc50.csv"
        rows = read_metadata(meta, COLUMNS + (("esc10",) if self.esc10 else ()), "ESC-50")
        if self.esc10:
            rows = [r for r in rows if str(r["esc10"]).strip().lower() == "true"]
        ids = class_names_by_id(rows, "target", "category", meta)
        label_of = {cid: i for i, cid in enumerate(ids)}
        builder = DatasetBuilder(self.describe(), tuple(ids.values()), self.sample_rate, root,
                                  index_only=self.index_only)
        split_of = fold_rule(self.test_fold, N_FOLDS)
        audio_dir = root / "audio"
        for row in rows:
            path = audio_dir / row["filename"]
            fold = parse_fold(row["fold"], N_FOLDS)
            if fold is None:
                builder.skip(path, f"fold {row['fold']!r} in {meta.name} is not in 1..{N_FOLDS}")
                continue
            source_clip = (row.get("src_file") or path.stem).strip()
            builder.add_file(path, label_of[int(row["target"])], split_of(fold), group=source_clip)
        if audio_dir.is_dir() and not self.esc10:
            listed = {r["filename"] for r in rows}
            extra = [p.name for p in audio_files(audio_dir, AUDIO_SUFFIXES)[0] if p.name not in listed]
            if extra:
                builder.warn(f"{len(extra)} file(s) in {audio_dir} not listed in {meta.name}, ignored "
                             f"(e.g. {extra[0]})")
        return builder.build(seed=self.seed)
