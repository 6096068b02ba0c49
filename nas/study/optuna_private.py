"""The Optuna internals the service relies on, in one place (checked against optuna 5.0.0, the version in
``requirements/runtime.lock``; re-check them when that pin moves).

Optuna has no public way to these three: a study's storage (a worker records heartbeats itself, since it
asks and tells instead of calling ``study.optimize``), a trial's storage id (what heartbeats are keyed by)
and the WFG hypervolume (``optuna.visualization`` only plots it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from optuna._hypervolume import compute_hypervolume as _compute_hypervolume

OPTUNA_CHECKED = "5.0.0"


def study_storage(study: optuna.Study) -> Any:
    """The storage object behind ``study`` (Optuna's cache around the ``RDBStorage`` it was given)."""
    return study._storage


def trial_id(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    """The trial's id in the storage (unique across studies; ``trial.number`` counts within one)."""
    return trial._trial_id


def compute_hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    """Volume dominated by ``points`` (rows, every objective minimised) up to ``reference``."""
    return float(_compute_hypervolume(points, reference, assume_pareto=False))
