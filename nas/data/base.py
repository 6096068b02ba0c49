"""Dataset sources and the in-memory dataset they produce.

A :class:`DatasetSource` turns a name from YAML or the CLI (``synthetic``, ``fsdd:PATH``) into an
:class:`AudioDataset`: mono float32 clips at one sample rate, integer labels, named splits, and a
:class:`DatasetSummary` of what was used and what was skipped and why.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass(frozen=True)
class DatasetSummary:
    """What a loader used and skipped; printed and stored with the study."""

    name: str
    n_clips: int
    class_counts: dict[str, int]
    split_counts: dict[str, int]
    skipped: tuple[SkippedFile, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_clips": self.n_clips,
            "class_counts": self.class_counts,
            "split_counts": self.split_counts,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "warnings": list(self.warnings),
        }

    def lines(self) -> list[str]:
        out = [f"dataset {self.name}: {self.n_clips} clips, splits " + ", ".join(
            f"{k} {v}" for k, v in self.split_counts.items())]
        out.append("  classes: " + ", ".join(f"{k} {v}" for k, v in self.class_counts.items()))
        if self.skipped:
            out.append(f"  skipped {len(self.skipped)} file(s):")
            out += [f"    {s.path}: {s.reason}" for s in self.skipped[:20]]
            if len(self.skipped) > 20:
                out.append(f"    ... and {len(self.skipped) - 20} more")
        out += [f"  warning: {w}" for w in self.warnings]
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


def make_summary(name: str, class_names: tuple[str, ...], labels: np.ndarray,
                 splits: dict[str, np.ndarray], skipped: tuple[SkippedFile, ...] = (),
                 warnings: tuple[str, ...] = ()) -> DatasetSummary:
    counts = np.bincount(labels, minlength=len(class_names))
    return DatasetSummary(
        name=name,
        n_clips=int(len(labels)),
        class_counts={c: int(n) for c, n in zip(class_names, counts)},
        split_counts={k: int(len(v)) for k, v in splits.items()},
        skipped=skipped,
        warnings=warnings,
    )


def content_fingerprint(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.tobytes() if isinstance(p, np.ndarray) else str(p).encode())
    return h.hexdigest()[:16]


def stratified_split(labels: np.ndarray, fractions: tuple[float, float, float], seed: int
                     ) -> dict[str, np.ndarray]:
    """Split indices per class so every split keeps the class proportions (rare classes too)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_valid = max(1, int(round(len(idx) * fractions[1])))
        n_test = max(1, int(round(len(idx) * fractions[2])))
        out["valid"] += idx[:n_valid].tolist()
        out["test"] += idx[n_valid:n_valid + n_test].tolist()
        out["train"] += idx[n_valid + n_test:].tolist()
    return {s: np.array(sorted(v), dtype=np.int64) for s, v in out.items()}
