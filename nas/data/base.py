"""Dataset sources and the in-memory dataset they produce.

A :class:`DatasetSource` turns a name from YAML or the CLI (``synthetic``, ``fsdd:PATH``) into an
:class:`AudioDataset`: mono float32 clips at one sample rate, integer labels, named splits, and a
:class:`DatasetSummary` of what was used and what was skipped and why.
"""

from __future__ import annotations

import copy
import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nas.errors import DataError

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class SkippedFile:
    """A file a loader could not use, and why (empty, truncated, not audio, unlisted...)."""

    path: str
    reason: str


@dataclass(frozen=True)
class DatasetSummary:
    """What a loader used and skipped; printed by callers (``lines()``) and stored with the study.

    ``split_class_counts`` maps each split to its class counts: imbalance and a class missing
    from a held-out split show up here.
    """

    name: str
    n_clips: int
    class_counts: dict[str, int]
    split_counts: dict[str, int]
    skipped: tuple[SkippedFile, ...] = ()
    warnings: tuple[str, ...] = ()
    split_class_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    sample_rate: int = 0
    notes: tuple[str, ...] = ()  # deliberate choices, e.g. how many "unknown" clips were sampled

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_clips": self.n_clips,
            "sample_rate": self.sample_rate,
            "class_counts": self.class_counts,
            "split_counts": self.split_counts,
            "split_class_counts": self.split_class_counts,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }

    def lines(self, limit: int = 20) -> list[str]:
        """Human-readable summary, at most ``limit`` skipped files and warnings each."""
        rate = f" at {self.sample_rate} Hz" if self.sample_rate else ""
        out = [f"dataset {self.name}: {self.n_clips} clips{rate}, splits " + ", ".join(
            f"{k} {v}" for k, v in self.split_counts.items())]
        if self.split_class_counts:
            names = "/".join(self.split_class_counts)
            out.append(f"  classes ({names}): " + ", ".join(
                f"{c} " + "/".join(str(counts.get(c, 0)) for counts in self.split_class_counts.values())
                for c in self.class_counts))
        else:
            out.append("  classes: " + ", ".join(f"{k} {v}" for k, v in self.class_counts.items()))
        out.append(f"  used {self.n_clips} file(s), skipped {len(self.skipped)}")
        out += [f"    skipped {s.path}: {s.reason}" for s in self.skipped[:limit]]
        if len(self.skipped) > limit:
            out.append(f"    ... and {len(self.skipped) - limit} more skipped")
        out += [f"  note: {n}" for n in self.notes]
        out += [f"  warning: {w}" for w in self.warnings[:limit]]
        if len(self.warnings) > limit:
            out.append(f"  ... and {len(self.warnings) - limit} more warnings")
        return out


@dataclass(frozen=True, eq=False)
class AudioDataset:
    """Mono float32 clips (variable length) at ``sample_rate``, with labels and splits.

    ``splits`` maps ``train``/``valid``/``test`` to index arrays into ``clips``.
    ``fingerprint`` identifies the content (used in feature-cache keys).
    """

    name: str
    class_names: tuple[str, ...]
    sample_rate: int
    clips: tuple[np.ndarray, ...]
    labels: np.ndarray
    splits: dict[str, np.ndarray]
    fingerprint: str
    summary: DatasetSummary
    groups: np.ndarray | None = field(default=None)  # e.g. speaker per clip
    sources: tuple[str, ...] = ()  # file (or generator key) per clip, to name it in messages
    # Background-noise recordings (not examples of any class) for noise-mixing augmentation:
    # ``_background_noise_`` in Speech Commands, ``noise/`` in a folder dataset.
    noise: tuple[np.ndarray, ...] = ()

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def class_weights(self, split: str = "train") -> np.ndarray:
        """Inverse-frequency weights from ``split``, normalised to mean 1 (imbalance is the norm)."""
        counts = np.bincount(self.labels[self.splits[split]], minlength=self.n_classes).astype(np.float64)
        w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / self.n_classes, 0.0)
        return (w / w[w > 0].mean()).astype(np.float32)


class DatasetSource(ABC):
    """Something that can load an :class:`AudioDataset`. One subclass per layout."""

    name: str = ""

    @abstractmethod
    def load(self) -> AudioDataset:
        """Read (or generate) the dataset. Raises :class:`nas.errors.DataError` on bad input."""

    def describe(self) -> str:
        return self.name

    def index(self) -> DatasetSummary:
        """What :meth:`load` would use (classes, splits, counts), checked the same way, without decoding
        any audio: file-based sources list their layout only, so a study can be refused at creation.

        Raises:
            DataError: a missing folder or metadata file, a class without training examples, an unknown
                held-out speaker... (the errors ``load()`` raises before it reads audio).
        """
        indexer = copy.copy(self)
        indexer.index_only = True
        return indexer.load().summary

    index_only: bool = False  # set on the copy :meth:`index` loads; file sources pass it to their builder


def make_summary(name: str, class_names: tuple[str, ...], labels: np.ndarray,
                 splits: dict[str, np.ndarray], skipped: tuple[SkippedFile, ...] = (),
                 warnings: tuple[str, ...] = (), sample_rate: int = 0,
                 notes: tuple[str, ...] = ()) -> DatasetSummary:
    counts = np.bincount(labels, minlength=len(class_names))
    per_split = {
        k: {c: int(n)
            for c, n in zip(class_names, np.bincount(labels[v], minlength=len(class_names)), strict=False)}
        for k, v in splits.items()
    }
    return DatasetSummary(
        name=name,
        n_clips=int(len(labels)),
        class_counts={c: int(n) for c, n in zip(class_names, counts, strict=False)},
        split_counts={k: int(len(v)) for k, v in splits.items()},
        skipped=skipped,
        warnings=warnings,
        split_class_counts=per_split,
        sample_rate=sample_rate,
        notes=notes,
    )


def check_classes(class_names: tuple[str, ...], labels: np.ndarray, splits: dict[str, np.ndarray],
                  where: str) -> list[str]:
    """Refuse a class with no training example; return warnings for classes absent elsewhere.

    Raises:
        DataError: naming the class(es) and ``where`` the data came from.
    """
    missing = [c for i, c in enumerate(class_names) if not np.any(labels[splits["train"]] == i)]
    if missing:
        raise DataError(f"{where}: class(es) {', '.join(repr(c) for c in missing)} have no examples "
                        "in the training split; add recordings or remove the class")
    warnings = []
    for split, idx in splits.items():
        absent = [c for i, c in enumerate(class_names) if not np.any(labels[idx] == i)]
        if absent and split != "train":
            warnings.append(f"class(es) {', '.join(absent)} have no examples in the {split} split")
    return warnings


def content_fingerprint(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.tobytes() if isinstance(p, np.ndarray) else str(p).encode())
    return h.hexdigest()[:16]


def stratified_split(labels: np.ndarray, fractions: tuple[float, float, float], seed: int
                     ) -> dict[str, np.ndarray]:
    """Split indices per class so every split keeps the class proportions (rare classes too).

    Each class keeps at least one training example; a class of one or two clips stays in train.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_valid = max(1, int(round(len(idx) * fractions[1]))) if fractions[1] > 0 else 0
        n_test = max(1, int(round(len(idx) * fractions[2]))) if fractions[2] > 0 else 0
        while n_valid + n_test >= len(idx) and n_valid + n_test > 0:  # keep one for training
            if n_test >= n_valid:
                n_test -= 1
            else:
                n_valid -= 1
        out["valid"] += idx[:n_valid].tolist()
        out["test"] += idx[n_valid:n_valid + n_test].tolist()
        out["train"] += idx[n_valid + n_test:].tolist()
    return {s: np.array(sorted(v), dtype=np.int64) for s, v in out.items()}


def carve_valid(labels: np.ndarray, train: np.ndarray, fraction: float, seed: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """(train, valid): a stratified ``fraction`` of ``train`` indices becomes the validation split."""
    parts = stratified_split(labels[train], (1.0 - fraction, fraction, 0.0), seed)
    return train[parts["train"]], train[parts["valid"]]
