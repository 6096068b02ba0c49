"""A user's own recordings: one sub-folder per class, any format, sample rate and channel count.

Optional ``validation_list.txt`` / ``testing_list.txt`` at the root (paths like ``dog/001.wav``, the
Speech Commands convention) fix the held-out splits; a ``noise/`` folder holds background noise for
augmentation and is not a class; unlisted clips are training clips. Without
lists the clips are split 70/15/15 per class, deterministically by seed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from nas.data.audio import AUDIO_SUFFIXES
from nas.data.base import AudioDataset, DatasetSource
from nas.data.builder import DatasetBuilder, audio_files, require_dir
from nas.errors import DataError

log = logging.getLogger(__name__)

NOISE_DIR = "noise"  # background-noise recordings, mixed into training clips by augmentation (not a class)
SPLIT_LISTS = {"valid": "validation_list.txt", "test": "testing_list.txt"}


class FolderSource(DatasetSource):
    """Class-per-folder recordings at ``root``, resampled to ``sample_rate``."""

    name = "folder"

    def __init__(self, root: str | Path, *, sample_rate: int = 16000, seed: int = 0,
                 fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)):
        self.root, self.sample_rate, self.seed, self.fractions = Path(root), sample_rate, seed, fractions

    def describe(self) -> str:
        return f"{self.name}:{self.root}"

    def load(self) -> AudioDataset:
        root = require_dir(self.root, "dataset")
        classes = tuple(sorted(p.name for p in root.iterdir()
                               if p.is_dir() and not p.name.startswith(".") and p.name != NOISE_DIR))
        if not classes:
            raise DataError(f"'{root}' has no class sub-folders: expected one folder of recordings per class")
        builder = DatasetBuilder(self.describe(), classes, self.sample_rate, root,
                                  index_only=self.index_only)
        for p in audio_files(root, AUDIO_SUFFIXES)[0]:
            builder.skip(p, "audio file outside any class folder")
        listed = self._split_lists(root, builder)
        for label, name in enumerate(classes):
            files, others = audio_files(root / name, AUDIO_SUFFIXES)
            for p in others:
                builder.skip(p, f"not an audio file extension ({p.suffix or 'none'})")
            if not files:
                builder.warn(f"class folder '{root / name}' holds no audio files")
            for p in files:
                builder.add_file(p, label, listed.get(f"{name}/{p.name}") if listed else None)
        builder.add_noise_dir(root / NOISE_DIR)
        return builder.build(seed=self.seed, fractions=self.fractions)

    @staticmethod
    def _split_lists(root: Path, builder: DatasetBuilder) -> dict[str, str]:
        """{relative path: split} from the split lists present; {} when there are none."""
        listed: dict[str, str] = {}
        for split, name in SPLIT_LISTS.items():
            path = root / name
            if not path.is_file():
                continue
            entries = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
            absent = [e for e in entries if not (root / e).is_file()]
            if absent:
                builder.warn(f"{len(absent)} entries of {name} do not exist (e.g. {absent[0]})")
            listed.update((e, split) for e in entries)
        if listed:
            present = [n for n in SPLIT_LISTS.values() if (root / n).is_file()]
            builder.note(f"splits from {', '.join(present)}; unlisted clips are training clips")
        return listed
