"""Google Speech Commands (v1/v2 layout): one folder per word, ``_background_noise_/``, split lists.

Two tasks: the usual 12-class keyword spotting task (10 words, ``_silence_`` cut from the background
noise recordings, ``_unknown_`` sampled from the other words, each about 10 % of a split, as in
TensorFlow's reference ``input_data.py``) and the all-words task. ``validation_list.txt`` and
``testing_list.txt`` define the splits; without them the dataset's own hash rule (its README) is used,
with a warning, since that rule is how the lists were made.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from pathlib import Path

import numpy as np

from nas.data.audio import AUDIO_SUFFIXES
from nas.data.base import AudioDataset, DatasetSource
from nas.data.builder import DatasetBuilder, audio_files, require_dir
from nas.errors import DataError

log = logging.getLogger(__name__)

WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE, UNKNOWN, NOISE_DIR = "_silence_", "_unknown_", "_background_noise_"
_MAX_PER_CLASS = 2 ** 27 - 1  # from the dataset's README


def hash_split(relpath: str, valid_percent: float = 10.0, test_percent: float = 10.0) -> str:
    """The dataset's own split rule: a speaker's clips all land in the same split."""
    speaker = re.sub(r"_nohash_.*$", "", Path(relpath).name)
    h = int(hashlib.sha1(speaker.encode()).hexdigest(), 16)
    percent = (h % (_MAX_PER_CLASS + 1)) * (100.0 / _MAX_PER_CLASS)
    if percent < valid_percent:
        return "valid"
    return "test" if percent < valid_percent + test_percent else "train"


class SpeechCommandsSource(DatasetSource):
    """Speech Commands at ``root`` (the folder holding the word folders).

    Args:
        task: ``12`` (10 words + silence + unknown) or ``all`` (every word folder is a class).
        silence_percent / unknown_percent: size of those classes per split, in % of the word clips.
    """

    def __init__(self, root: str | Path, *, task: str = "12", seed: int = 0, sample_rate: int = 16000,
                 silence_percent: float = 10.0, unknown_percent: float = 10.0):
        if task not in ("12", "all"):
            raise ValueError(f"task must be '12' or 'all', not {task!r}")
        self.root, self.task, self.seed, self.sample_rate = Path(root), task, seed, sample_rate
        self.silence_percent, self.unknown_percent = silence_percent, unknown_percent
        self.name = "speech-commands" if task == "12" else "speech-commands-all"

    def describe(self) -> str:
        return f"{self.name}:{self.root}"

    def load(self) -> AudioDataset:
        root = require_dir(self.root, "Speech Commands")
        words = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name[0] not in "._")
        if not words:
            raise DataError(f"no word folders in Speech Commands folder '{root}'")
        classes = (SILENCE, UNKNOWN, *WORDS) if self.task == "12" else tuple(words)
        builder = DatasetBuilder(self.describe(), classes, self.sample_rate, root,
                                  index_only=self.index_only)
        split_of = self._split_rule(root, builder)
        per_split: dict[str, list[tuple[Path, int, str]]] = {"train": [], "valid": [], "test": []}
        unknown: dict[str, list[tuple[Path, int, str]]] = {"train": [], "valid": [], "test": []}
        for word in words:
            files, others = audio_files(root / word, AUDIO_SUFFIXES)
            for p in others:
                builder.skip(p, f"not an audio file ({p.suffix or 'no extension'})")
            for p in files:
                rel = f"{word}/{p.name}"
                speaker = re.sub(r"_nohash_.*$", "", p.stem)
                if word in classes:
                    per_split[split_of(rel)].append((p, classes.index(word), speaker))
                else:
                    unknown[split_of(rel)].append((p, classes.index(UNKNOWN), speaker))
        if self.task == "12" and not any(unknown.values()):
            raise DataError(f"Speech Commands folder '{root}' has no auxiliary words (folders besides "
                            f"{', '.join(WORDS)}) to make the {UNKNOWN} class of the 12-class task from: add them "
                            "(the dataset ships 25) or use speech-commands-all")
        rng = np.random.default_rng(self.seed)
        for split, items in per_split.items():
            if self.task == "12":
                n_unknown = min(len(unknown[split]), math.ceil(len(items) * self.unknown_percent / 100))
                picked: np.ndarray | list[int] = (
                    rng.choice(len(unknown[split]), size=n_unknown, replace=False) if n_unknown else [])
                items = items + [unknown[split][i] for i in sorted(picked)]
                builder.note(f"{split}: {UNKNOWN} uses {n_unknown} of {len(unknown[split])} clips of "
                             "other words")
            for path, label, speaker in items:
                builder.add_file(path, label, split, group=speaker)
        noises = builder.add_noise_dir(root / NOISE_DIR)  # also mixed in by augmentation
        if self.task == "12":
            self._add_silence(root, builder, rng, {s: len(v) for s, v in per_split.items()}, noises)
        return builder.build(seed=self.seed)

    def _split_rule(self, root: Path, builder: DatasetBuilder):
        lists = {"valid": root / "validation_list.txt", "test": root / "testing_list.txt"}
        missing = [p.name for p in lists.values() if not p.is_file()]
        if missing:
            builder.warn(f"{' and '.join(missing)} missing in '{root}': using the dataset's hash split rule")
            return hash_split
        listed: dict[str, str] = {}
        for split, path in lists.items():
            entries = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
            absent = [e for e in entries if not (root / e).is_file()]
            if absent:
                builder.warn(f"{len(absent)} entries of {path.name} do not exist (e.g. {absent[0]})")
            listed.update((e, split) for e in entries)
        return lambda rel: listed.get(rel, "train")

    def _add_silence(self, root: Path, builder: DatasetBuilder, rng: np.random.Generator,
                     word_counts: dict[str, int], noises: list[tuple[Path, np.ndarray]]) -> None:
        """``_silence_`` clips: 1 s of a random noise recording at a random level (0..1)."""
        noise_dir = root / NOISE_DIR
        if builder.index_only:  # the index: a noise file to cut from is enough, nothing is decoded
            if not noises:
                raise DataError(f"no background noise recordings in '{noise_dir}': the 12-class task makes its "
                                f"{SILENCE} class from it (use speech-commands-all for the words only)")
            for split, count in word_counts.items():
                for i in range(math.ceil(count * self.silence_percent / 100)):
                    builder.add_clip(np.zeros(0, np.float32), builder.class_names.index(SILENCE), split,
                                     f"{NOISE_DIR}#{i}", group=NOISE_DIR)
            return
        if not noises:
            raise DataError(f"no readable background noise in '{noise_dir}': the 12-class task makes its "
                            f"{SILENCE} class from it (use speech-commands-all for the words only)")
        n = self.sample_rate  # one second
        for split, count in word_counts.items():
            for _ in range(math.ceil(count * self.silence_percent / 100)):
                i = int(rng.integers(len(noises)))
                path, noise = noises[i]
                start = int(rng.integers(0, max(1, len(noise) - n + 1)))
                gain = float(rng.uniform(0.0, 1.0))
                source = f"{path.relative_to(root).as_posix()}@{start}x{gain:.4f}"
                builder.add_clip(noise[start:start + n] * gain, builder.class_names.index(SILENCE), split,
                                 source, group=NOISE_DIR, made_from=path)
