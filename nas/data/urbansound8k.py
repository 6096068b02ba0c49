"""UrbanSound8K: ``metadata/UrbanSound8K.csv`` + ``audio/fold{1..10}/*.wav``, 10 classes, 10 folds.

Clips (up to 4 s) come at many sample rates and bit depths (8-bit, 24-bit, stereo): the reader mixes
down and resamples to 16 kHz. Fold ``k`` is the test split and fold ``k+1`` validation; the dataset's
authors warn that random splits overstate accuracy (see :mod:`nas.data.folds`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from nas.data.base import AudioDataset, DatasetSource
from nas.data.builder import DatasetBuilder, require_dir
from nas.data.folds import class_names_by_id, fold_rule, parse_fold, read_metadata

log = logging.getLogger(__name__)

N_FOLDS = 10
COLUMNS = ("slice_file_name", "fsID", "fold", "classID", "class")


class UrbanSound8KSource(DatasetSource):
    """UrbanSound8K at ``root``, ``test_fold`` held out for test, the next fold for validation."""

    name = "urbansound8k"

    def __init__(self, root: str | Path, *, test_fold: int = 1, sample_rate: int = 16000, seed: int = 0):
        self.root, self.test_fold, self.sample_rate, self.seed = Path(root), test_fold, sample_rate, seed
        fold_rule(test_fold, N_FOLDS)  # a ConfigError now rather than at load time

    def describe(self) -> str:
        return f"{self.name}:{self.root}:{self.test_fold}"

    def load(self) -> AudioDataset:
        root = require_dir(self.root, "UrbanSound8K")
        meta = root / "metadata" / "UrbanSound8K.csv"
        rows = read_metadata(meta, COLUMNS, "UrbanSound8K")
        ids = class_names_by_id(rows, "classID", "class", meta)
        label_of = {cid: i for i, cid in enumerate(ids)}
        builder = DatasetBuilder(self.describe(), tuple(ids.values()), self.sample_rate, root,
                                  index_only=self.index_only)
        split_of = fold_rule(self.test_fold, N_FOLDS)
        for row in rows:
            fold = parse_fold(row["fold"], N_FOLDS)
            if fold is None:
                builder.skip(root / "audio" / row["slice_file_name"],
                             f"fold {row['fold']!r} in {meta.name} is not in 1..{N_FOLDS}")
                continue
            path = root / "audio" / f"fold{fold}" / row["slice_file_name"]
            builder.add_file(path, label_of[int(row["classID"])], split_of(fold), group=row["fsID"])
        return builder.build(seed=self.seed)
