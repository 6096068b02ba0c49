"""Data stage: dataset sources, audio frontends and the feature cache.

``load_dataset("synthetic")`` or ``load_dataset("fsdd:PATH")`` is the one place where a dataset
name from YAML or the CLI becomes a :class:`DatasetSource`.
"""

from __future__ import annotations

from nas.data.base import AudioDataset, DatasetSource, DatasetSummary
from nas.data.cache import FeatureCache
from nas.data.frontend import FeatureSet, Frontend, build_features
from nas.data.synthetic import SyntheticSource
from nas.errors import ConfigError

__all__ = [
    "AudioDataset", "DatasetSource", "DatasetSummary", "FeatureCache", "FeatureSet", "Frontend",
    "build_features", "get_source", "load_dataset", "SyntheticSource",
]


def get_source(spec: str) -> DatasetSource:
    """Turn ``name`` or ``name:ARG`` into a dataset source.

    ``synthetic`` or ``synthetic:N`` (N clips, default 800).
    """
    name, _, arg = spec.partition(":")
    if name == "synthetic":
        try:
            return SyntheticSource(n_clips=int(arg)) if arg else SyntheticSource()
        except ValueError as e:
            raise ConfigError(f"dataset '{spec}': 'synthetic:N' needs an integer clip count") from e
    raise ConfigError(f"unknown dataset '{spec}': available: synthetic[:N]")


def load_dataset(spec: str) -> AudioDataset:
    return get_source(spec).load()
