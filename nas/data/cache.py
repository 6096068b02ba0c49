"""On-disk feature cache: features are computed once per (dataset content, frontend settings).

Entries hold the raw (unnormalised) frontend output, keyed by the dataset's content fingerprint and
the frontend settings that change those numbers (normalisation is applied after reading, so the
three normalisation choices share one entry). Writes go to a temporary file in the same folder and
are renamed into place (atomic on POSIX), so no reader ever sees a half-written file. Workers that
want the same missing entry take a per-entry file lock: one computes, the others wait and read it.
Where locks are unavailable both compute identical bytes and the last rename wins.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nas.candidate import FrontendConfig
from nas.data.base import AudioDataset, content_fingerprint
from nas.data.frontend import (
    FRONTEND_VERSION,
    NOISE_SEGMENTS,
    FeatureSet,
    build_features,
    extract_features,
    noise_features,
    validate_frontend,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: atomic rename only
    fcntl = None  # type: ignore[assignment]  # the module or None; _lock checks

log = logging.getLogger(__name__)


def raw_key(cfg: FrontendConfig) -> str:
    """Hash of the settings that change raw features (not ``normalization``; ``n_mfcc`` for MFCC only)."""
    d = cfg.to_dict()
    d.pop("normalization", None)
    if cfg.kind != "mfcc":
        d.pop("n_mfcc", None)
    d["version"] = FRONTEND_VERSION
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


class FeatureCache:
    """Caches raw frontend output under ``root/<dataset fingerprint>/<frontend key>.npy``.

    ``hits`` and ``misses`` count :meth:`features` calls served from disk and computed.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def path_for(self, dataset: AudioDataset, cfg: FrontendConfig) -> Path:
        return self.root / dataset.fingerprint / f"{raw_key(cfg)}.npy"

    def features(self, dataset: AudioDataset, cfg: FrontendConfig) -> FeatureSet:
        """Normalised features of ``dataset`` under ``cfg``, computed at most once per cache folder.

        Raises:
            ConfigError: invalid frontend settings (before anything is computed).
        """
        validate_frontend(cfg)
        path = self.path_for(dataset, cfg)
        expected = (len(dataset.clips), *cfg.feature_shape)
        raw = self._read(path, expected)
        if raw is None:
            with self._lock(path):
                raw = self._read(path, expected, quiet=True)  # another worker may have written it
                if raw is None:
                    self.misses += 1
                    raw = extract_features(dataset, cfg)
                    self._write(path, raw)
                    log.info("computed features %s for %s -> %s", cfg.describe(), dataset.name, path)
                else:
                    self.hits += 1
        else:
            self.hits += 1
        return build_features(dataset, cfg, raw, self._noise(dataset, cfg))

    def _noise(self, dataset: AudioDataset, cfg: FrontendConfig) -> np.ndarray | None:
        """Raw features of the dataset's background-noise segments (augmentation), cached like clips."""
        if not dataset.noise:
            return None
        path = self.root / dataset.fingerprint / f"{raw_key(cfg)}-noise-{content_fingerprint(*dataset.noise)}.npy"
        expected = (NOISE_SEGMENTS, *cfg.feature_shape)
        noise = self._read(path, expected)
        if noise is None:
            with self._lock(path):
                noise = self._read(path, expected, quiet=True)
                if noise is None:
                    noise = noise_features(dataset.noise, dataset.sample_rate, cfg, NOISE_SEGMENTS)
                    self._write(path, noise)
        return noise

    @staticmethod
    def _read(path: Path, expected: tuple[int, ...], quiet: bool = False) -> np.ndarray | None:
        if not path.exists():
            return None
        try:
            raw = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:  # a damaged entry is recomputed, not fatal
            if not quiet:
                log.warning("feature cache entry %s unreadable (%s): recomputing", path, e)
            return None
        if raw.shape != expected or raw.dtype != np.float32 or not np.isfinite(raw).all():
            if not quiet:
                log.warning("feature cache entry %s has shape %s %s, expected %s float32 finite: "
                            "recomputing", path, raw.shape, raw.dtype, expected)
            return None
        return raw

    @staticmethod
    @contextlib.contextmanager
    def _lock(path: Path) -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            yield
            return
        with open(path.with_suffix(".lock"), "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX)
            except OSError:  # e.g. a file system without locks: atomic rename still protects readers
                pass
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    fcntl.flock(f, fcntl.LOCK_UN)

    @staticmethod
    def _write(path: Path, raw: np.ndarray) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, raw, allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
