"""What every file-based loader does after it has parsed its layout: read, split, check, summarise.

A loader walks its layout (names, metadata CSV, split lists) and calls :meth:`DatasetBuilder.add_file`
per recording with the label and, where the layout defines it, the split. :meth:`DatasetBuilder.build`
reads nothing more: it carves a validation split where the layout has none, refuses a class without
training examples, and computes the content fingerprint that keys the feature cache.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from nas.data.audio import AUDIO_SUFFIXES, ClipReader
from nas.data.base import (
    SPLITS,
    AudioDataset,
    SkippedFile,
    carve_valid,
    check_classes,
    make_summary,
    stratified_split,
)
from nas.errors import DataError

log = logging.getLogger(__name__)

# Bump when decoding or resampling changes: cached features of old clips must not be reused.
READER_VERSION = "audio-v1"


def require_dir(path: str | Path, what: str) -> Path:
    """``path`` as a Path, or a DataError naming it."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DataError(f"{what} folder '{path}' does not exist or is not a folder")
    return path


def require_file(path: Path, what: str, hint: str = "") -> Path:
    if not path.is_file():
        raise DataError(f"{what} '{path}' is missing{': ' + hint if hint else ''}")
    return path


def audio_files(folder: Path, suffixes: frozenset[str]) -> tuple[list[Path], list[Path]]:
    """(audio files, other files) directly in ``folder``, sorted; hidden files are ignored."""
    audio: list[Path] = []
    other: list[Path] = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        (audio if p.suffix.lower() in suffixes else other).append(p)
    return audio, other


class DatasetBuilder:
    """Collects clips, labels, split tags and groups while a loader reads a layout.

    Args:
        name: the dataset spec, shown in the summary.
        class_names: label index -> name.
        sample_rate: every clip is resampled to this rate.
        root: dataset folder; paths are fingerprinted relative to it (a moved copy keeps its cache).
    """

    def __init__(self, name: str, class_names: tuple[str, ...], sample_rate: int, root: Path, *,
                 index_only: bool = False):
        self.name, self.class_names, self.sample_rate, self.root = name, class_names, sample_rate, root
        self.index_only = index_only  # record names, labels and splits; decode nothing (empty clips)
        self.reader = ClipReader(sample_rate)
        self.clips: list[np.ndarray] = []
        self.labels: list[int] = []
        self.tags: list[str | None] = []
        self.groups: list[str] = []
        self.sources: list[str] = []
        self.notes: list[str] = []
        self.noise: list[np.ndarray] = []  # background-noise recordings (augmentation), no class
        self._hash = hashlib.sha256(f"{READER_VERSION}|{sample_rate}".encode())

    @property
    def skipped(self) -> list[SkippedFile]:
        return self.reader.skipped

    @property
    def warnings(self) -> list[str]:
        return self.reader.warnings

    @property
    def _level(self) -> int:
        return logging.DEBUG if self.index_only else logging.INFO  # an index is checked quietly

    def skip(self, path: str | Path, reason: str) -> None:
        log.log(logging.WARNING if not self.index_only else self._level, "skipping %s: %s", path, reason)
        self.reader.skipped.append(SkippedFile(str(path), reason))

    def warn(self, message: str) -> None:
        log.log(logging.WARNING if not self.index_only else self._level, "%s: %s", self.name, message)
        self.reader.warnings.append(message)

    def note(self, message: str) -> None:
        log.log(self._level, "%s: %s", self.name, message)
        self.notes.append(message)

    def add_file(self, path: Path, label: int, split: str | None = None, group: str = "") -> bool:
        """Read ``path`` as a clip of class ``label``; False (and recorded) when unusable.

        With ``index_only`` the file is only checked to exist and hold bytes; the clip is empty."""
        if self.index_only:
            if not path.is_file() or path.stat().st_size == 0:
                self.skip(path, "file does not exist" if not path.is_file() else "empty file (0 bytes)")
                return False
            self._add(np.zeros(0, np.float32), label, split, group, _relative(path, self.root), "index")
            return True
        clip = self.reader.read(path)
        if clip is None:
            return False
        stat = path.stat()
        self._add(clip, label, split, group, _relative(path, self.root), f"{stat.st_size}|{stat.st_mtime_ns}")
        return True

    def add_noise_dir(self, folder: Path) -> list[tuple[Path, np.ndarray]]:
        """Read every audio file in ``folder`` as background noise (for augmentation, not a class);
        returns (path, clip) of those read. Unreadable files are skipped with the reason."""
        read = []
        files = audio_files(folder, AUDIO_SUFFIXES)[0] if folder.is_dir() else []
        if self.index_only:  # an index decodes nothing: the files that hold bytes, with empty clips
            return [(p, np.zeros(0, np.float32)) for p in files if p.stat().st_size > 0]
        for p in files:
            clip = self.reader.read(p)
            if clip is not None and len(clip):
                read.append((p, clip))
        self.noise += [c for _, c in read]
        if read:
            self.note(f"{len(read)} background-noise recording(s) in '{folder.name}/' for noise augmentation")
        return read

    def add_clip(self, clip: np.ndarray, label: int, split: str | None, source: str, *,
                 group: str = "", made_from: Path | None = None) -> None:
        """A clip made by the loader (e.g. ``_silence_`` cut from noise); ``source`` identifies it
        and ``made_from`` is the file it was cut from (its size and mtime enter the fingerprint)."""
        identity = "generated"
        if made_from is not None:
            stat = made_from.stat()
            identity = f"{stat.st_size}|{stat.st_mtime_ns}"
        self._add(clip.astype(np.float32, copy=False), label, split, group, source, identity)

    def _add(self, clip: np.ndarray, label: int, split: str | None, group: str, source: str,
             identity: str) -> None:
        if split is not None and split not in SPLITS:
            raise ValueError(f"unknown split {split!r}")  # a loader bug, not user input
        self.clips.append(clip)
        self.labels.append(label)
        self.tags.append(split)
        self.groups.append(group)
        self.sources.append(source)
        self._hash.update(f"\n{source}|{identity}|{len(clip)}".encode())

    def build(self, *, seed: int = 0, valid_fraction: float = 0.1,
              fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)) -> AudioDataset:
        """The dataset. Untagged clips are split by ``fractions``; if the layout gave no
        validation clips, ``valid_fraction`` of train becomes validation (stratified, by ``seed``).

        Raises:
            DataError: no readable clip at all, or a class without training examples.
        """
        if not self.clips:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in self.skipped[:3])
            raise DataError(f"{self.name}: no readable audio clips in '{self.root}'"
                            + (f" ({len(self.skipped)} skipped, e.g. {reasons})" if self.skipped else ""))
        labels = np.asarray(self.labels, dtype=np.int64)
        splits = self._splits(labels, seed, valid_fraction, fractions)
        warnings = check_classes(self.class_names, labels, splits, f"{self.name} ({self.root})")
        for w in warnings:
            self.warn(w)
        summary = make_summary(self.name, self.class_names, labels, splits, tuple(self.skipped),
                               tuple(self.warnings), self.sample_rate, tuple(self.notes))
        log.log(self._level, "%s: %d clips, %d skipped, %d warnings", self.name, len(labels), len(self.skipped),
                 len(self.warnings))
        group_ids = {g: i for i, g in enumerate(sorted(set(self.groups)))}
        groups = np.array([group_ids[g] for g in self.groups], dtype=np.int64)
        return AudioDataset(self.name, self.class_names, self.sample_rate, tuple(self.clips), labels,
                            splits, self._hash.hexdigest()[:16], summary, groups, tuple(self.sources),
                            tuple(self.noise))

    def _splits(self, labels: np.ndarray, seed: int, valid_fraction: float,
                fractions: tuple[float, float, float]) -> dict[str, np.ndarray]:
        tags = np.array([t or "" for t in self.tags], dtype="<U5")
        untagged = np.flatnonzero(tags == "")
        if len(untagged) == len(tags):
            return stratified_split(labels, fractions, seed)
        if len(untagged):  # a partial split list: unlisted clips are training clips
            tags[untagged] = "train"
        splits = {s: np.flatnonzero(tags == s) for s in SPLITS}
        if len(splits["valid"]) == 0 and valid_fraction > 0:
            splits["train"], splits["valid"] = carve_valid(labels, splits["train"], valid_fraction, seed)
            splits = {s: np.sort(splits[s]) for s in SPLITS}
        return splits


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
