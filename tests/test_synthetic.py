import numpy as np
import pytest

from nas.candidate import FrontendConfig
from nas.data import SyntheticSource, build_features, get_source
from nas.errors import ConfigError


def test_synthetic_is_deterministic_from_its_seed():
    a = SyntheticSource(n_clips=80, seed=3).load()
    b = SyntheticSource(n_clips=80, seed=3).load()
    c = SyntheticSource(n_clips=80, seed=4).load()
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert all(np.array_equal(x, y) for x, y in zip(a.clips, b.clips, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a.clips, c.clips, strict=True))
    for split in ("train", "valid", "test"):
        assert np.array_equal(a.splits[split], b.splits[split])


def test_synthetic_is_imbalanced_with_rare_sirens():
    ds = SyntheticSource(n_clips=800).load()
    counts = ds.summary.class_counts
    assert min(counts, key=counts.get) == "siren"
    assert counts["background"] >= 4 * counts["siren"]
    w = ds.class_weights()
    assert w[ds.class_names.index("siren")] == w.max()  # the rarest class weighs most in the loss
    for split in ("train", "valid", "test"):  # every class is present in every split
        assert len(np.unique(ds.labels[ds.splits[split]])) == ds.n_classes


def test_synthetic_is_not_trivially_separable():
    # A linear classifier on per-band mean/std features must not reach 100 %.
    ds = SyntheticSource(n_clips=400).load()
    fs = build_features(ds, FrontendConfig())

    def stats(x):
        return np.c_[x.mean(2), x.std(2), np.ones(len(x))]

    (xtr, ytr), (xte, yte) = fs.split("train"), fs.split("test")
    w = np.linalg.lstsq(stats(xtr), np.eye(ds.n_classes)[ytr], rcond=None)[0]
    acc = float(((stats(xte) @ w).argmax(1) == yte).mean())
    assert 0.3 < acc < 0.95


def test_unknown_dataset_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown dataset 'nope'"):
        get_source("nope")
