"""On-disk feature cache: features are computed once per (dataset content, frontend settings).

Writes go to a temporary file in the same folder and are renamed into place (atomic on POSIX),
so concurrent workers never read a half-written file; two workers computing the same entry at
once both produce identical bytes and the last rename wins.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from nas.candidate import FrontendConfig
from nas.data.base import AudioDataset
from nas.data.frontend import FeatureSet, build_features, extract_features

log = logging.getLogger(__name__)


class FeatureCache:
    """Caches raw frontend output under ``root/<dataset fingerprint>/<frontend key>.npy``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def path_for(self, dataset: AudioDataset, cfg: FrontendConfig) -> Path:
        return self.root / dataset.fingerprint / f"{cfg.key()}.npy"

    def features(self, dataset: AudioDataset, cfg: FrontendConfig) -> FeatureSet:
        path = self.path_for(dataset, cfg)
        raw = self._read(path, expected=(len(dataset.clips), *cfg.feature_shape))
        if raw is None:
            self.misses += 1
            raw = extract_features(dataset, cfg)
            self._write(path, raw)
        else:
            self.hits += 1
        return build_features(dataset, cfg, raw)

    @staticmethod
    def _read(path: Path, expected: tuple[int, ...]) -> np.ndarray | None:
        if not path.exists():
            return None
        try:
            raw = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:  # a damaged entry is recomputed, not fatal
            log.warning("feature cache entry %s unreadable (%s): recomputing", path, e)
            return None
        if raw.shape != expected:
            log.warning("feature cache entry %s has shape %s, expected %s: recomputing", path, raw.shape, expected)
            return None
        return raw

    @staticmethod
    def _write(path: Path, raw: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, raw, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
