"""Bounds on every size a study config can set, checked once at creation (``nas study create`` and
``POST /api/studies`` both go through :func:`nas.service.create_study`).

A request must not buy unbounded work: ``synthetic:9999999`` would be ~640 GB of features in every worker,
``epochs: 100000`` a trial that never ends. The frontend is checked too: every corner of the space's
frontend ranges must give features (``sample_rate: 1`` would fail every trial and spend the budget).
The trial budget and the number of devices are bounded by the config itself (``StudyConfig.n_trials``,
the API's ``devices``).
"""

from __future__ import annotations

import itertools
from typing import Any

from nas.candidate import FrontendConfig
from nas.errors import ConfigError
from nas.space import ParamSpec, SearchSpace

MAX_SYNTHETIC_CLIPS = 20_000
TRAINING_MAX = {"epochs": 500, "finetune_epochs": 500, "batch_size": 4096, "chance_epochs": 500}
FRONTEND_MAX = {"sample_rate": 96_000, "clip_seconds": 30.0, "win_ms": 1000.0, "hop_ms": 1000.0, "n_mels": 256,
                "n_mfcc": 256}
FAMILY_SIZE_MAX = 4096  # any integer size of a model family: channels, units, layers, kernel
MAX_FRONTEND_CORNERS = 4096  # combinations of range ends checked (a space rarely has more than a few dozen)


def check_bounds(dataset: str, space: SearchSpace) -> None:
    """Refuse a config whose sizes exceed the bounds above, or whose frontend cannot produce features.

    Raises:
        ConfigError: naming the field, its value and the bound.
    """
    kind, _, count = dataset.partition(":")
    if kind == "synthetic" and count.strip().isdigit() and not 1 <= int(count) <= MAX_SYNTHETIC_CLIPS:
        raise ConfigError(f"dataset '{dataset}': synthetic:N takes 1 to {MAX_SYNTHETIC_CLIPS} clips")
    where = f"search space '{space.name}'"
    for section, limits in (("training", TRAINING_MAX), ("frontend", FRONTEND_MAX)):
        specs: dict[str, ParamSpec] = getattr(space, section)
        for key, bound in limits.items():
            if key in specs and max(_ends(specs[key]), default=0) > bound:
                raise ConfigError(f"{where}: {section}.{key}: {specs[key].describe()} exceeds the bound {bound:g}")
    for family, params in space.families.items():
        for key, spec in params.items():
            if spec.kind == "int" and spec.high > FAMILY_SIZE_MAX:
                raise ConfigError(f"{where}: families.{family}.{key}: {spec.describe()} exceeds the bound "
                                  f"{FAMILY_SIZE_MAX}")
    check_frontend_corners(space)


def check_frontend_corners(space: SearchSpace) -> None:
    """Every combination of the frontend ranges' ends must be a valid frontend (the checks are monotonic in
    each setting, so the corners stand for the whole space).

    Raises:
        ConfigError: the first corner that fails, naming the setting and why.
    """
    from nas.data.frontend import validate_frontend  # torch: only when a study is created

    keys = sorted(space.frontend)
    choices = [_ends(space.frontend[k]) for k in keys]
    for values in itertools.islice(itertools.product(*choices), MAX_FRONTEND_CORNERS):
        try:
            validate_frontend(FrontendConfig(**dict(zip(keys, values, strict=True))))
        except ConfigError as e:
            raise ConfigError(f"search space '{space.name}': {e}; every trial would fail") from e


def _ends(spec: ParamSpec) -> tuple[Any, ...]:
    if spec.kind in ("fixed", "choice"):
        return tuple(spec.values)
    if spec.kind == "int":
        return int(spec.low), int(spec.high)
    return spec.low, spec.high
