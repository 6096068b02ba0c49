"""Feature cache: one computation per (content, frontend), safe under concurrent workers."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pytest

import nas.data.cache as cache_mod
from nas.candidate import FrontendConfig
from nas.data import FeatureCache, get_source
from nas.errors import ConfigError

CFG = FrontendConfig(kind="mfcc", sample_rate=8000, clip_seconds=0.5, n_mels=20, n_mfcc=10)


@pytest.fixture
def dataset(fsdd_tiny):
    return get_source(f"fsdd:{fsdd_tiny}").load()


def test_second_call_is_a_hit_without_recompute(tmp_path, dataset, monkeypatch):
    cache = FeatureCache(tmp_path / "cache")
    first = cache.features(dataset, CFG)
    assert (cache.hits, cache.misses) == (0, 1)

    def refuse(*a, **k):
        raise AssertionError("features recomputed on a cache hit")

    monkeypatch.setattr(cache_mod, "extract_features", refuse)
    second = FeatureCache(tmp_path / "cache").features(dataset, CFG)  # e.g. the next trial's cache object
    again = cache.features(dataset, CFG)
    assert (cache.hits, cache.misses) == (1, 1)
    np.testing.assert_array_equal(first.x, second.x)
    np.testing.assert_array_equal(first.x, again.x)
    assert first.input_shape == CFG.feature_shape and first.n_classes == 10
    # normalisation is applied after the cache: another choice reuses the same entry
    per_clip = cache.features(dataset, dataclasses.replace(CFG, normalization="per_clip"))
    assert cache.hits == 2 and not np.allclose(per_clip.x, first.x)


def test_other_frontend_or_content_misses(tmp_path, dataset, fsdd_tiny):
    cache = FeatureCache(tmp_path)
    cache.features(dataset, CFG)
    cache.features(dataset, dataclasses.replace(CFG, hop_ms=10.0))
    assert (cache.hits, cache.misses) == (0, 2)
    (fsdd_tiny / "recordings" / "0_alice_5.wav").unlink()
    cache.features(get_source(f"fsdd:{fsdd_tiny}").load(), CFG)
    assert cache.misses == 3


def test_corrupt_entry_is_recomputed_with_a_warning(tmp_path, dataset, caplog):
    cache = FeatureCache(tmp_path)
    good = cache.features(dataset, CFG).x
    path = cache.path_for(dataset, CFG)
    path.write_bytes(path.read_bytes()[:200])  # a truncated .npy
    with caplog.at_level(logging.WARNING, logger="nas.data.cache"):
        again = cache.features(dataset, CFG).x
    assert "unreadable" in caplog.text and str(path) in caplog.text
    assert cache.misses == 2
    np.testing.assert_array_equal(good, again)
    assert np.load(path).shape == (len(dataset.clips), *CFG.feature_shape)  # repaired on disk


def test_invalid_frontend_is_refused_before_work(tmp_path, dataset):
    with pytest.raises(ConfigError, match="n_mfcc"):
        FeatureCache(tmp_path).features(dataset, dataclasses.replace(CFG, n_mfcc=30))


def _worker(root: str, cache_dir: str, barrier, queue) -> None:
    ds = get_source(f"fsdd:{root}").load()
    cache = FeatureCache(cache_dir)
    barrier.wait()  # both ask for the same missing entry at the same moment
    fs = cache.features(ds, CFG)
    queue.put((fs.x.tobytes(), cache.hits, cache.misses))


def test_two_processes_computing_the_same_entry(tmp_path, fsdd_tiny):
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(fsdd_tiny), str(tmp_path / "c"), barrier, queue))
             for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert results[0][0] == results[1][0]  # identical features
    assert sorted((h, m) for _, h, m in results) == [(0, 1), (1, 0)]  # the lock: one computed, one read
    files = sorted(p.name for p in Path(tmp_path / "c").rglob("*") if p.is_file())
    assert not [f for f in files if f.endswith(".tmp")]  # no partial file left
    entry = FeatureCache(tmp_path / "c").path_for(get_source(f"fsdd:{fsdd_tiny}").load(), CFG)
    assert np.frombuffer(results[0][0], np.float32).size == np.load(entry).size
