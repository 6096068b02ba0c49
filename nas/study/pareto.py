"""Dominance and hypervolume over objective vectors (pure functions, no I/O).

Vectors are in "loss" form (every objective minimised): accuracy enters as ``1 - accuracy``.
The study keeps its fronts incrementally with :func:`dominates`: a point joins when no front point
dominates it; equal points do not dominate each other (the same rule as Optuna's ``best_trials``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nas.study.optuna_private import compute_hypervolume


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """Volume dominated by ``points`` up to ``reference`` (points beyond it are clipped out)."""
    ref = np.asarray(reference, dtype=float)
    pts = np.asarray([p for p in points if np.all(np.asarray(p) < ref)], dtype=float)
    if len(pts) == 0:
        return 0.0
    return compute_hypervolume(pts, ref)
