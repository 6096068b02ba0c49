"""Pareto fronts and hypervolume over objective vectors (pure functions, no I/O).

Vectors are in "loss" form (every objective minimised): accuracy enters as ``1 - accuracy``.
A point joins the front when no front point dominates it; equal points do not dominate each other
(the same rule as Optuna's ``best_trials``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from optuna._hypervolume import compute_hypervolume


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(points: dict[int, Sequence[float]]) -> list[int]:
    """Keys of the non-dominated points, sorted."""
    keys = sorted(points, key=lambda k: tuple(points[k]))
    front: list[int] = []
    for k in keys:
        if not any(dominates(points[f], points[k]) for f in front):
            front = [f for f in front if not dominates(points[k], points[f])] + [k]
    return sorted(front)


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """Volume dominated by ``points`` up to ``reference`` (points beyond it are clipped out)."""
    ref = np.asarray(reference, dtype=float)
    pts = np.asarray([p for p in points if np.all(np.asarray(p) < ref)], dtype=float)
    if len(pts) == 0:
        return 0.0
    return float(compute_hypervolume(pts, ref, assume_pareto=False))
