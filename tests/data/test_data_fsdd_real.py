"""The real Free Spoken Digit Dataset from ../shared (skipped where it is not present)."""

from __future__ import annotations

import numpy as np

from nas.data import get_source


def test_official_split_on_real_fsdd(shared_fsdd):
    ds = get_source(f"fsdd:{shared_fsdd}").load()
    assert len(ds.clips) == 3000 and ds.sample_rate == 8000 and not ds.summary.skipped
    assert ds.class_names == tuple("0123456789")
    assert len(ds.splits["test"]) == 300  # takes 0-4 of 10 digits x 6 speakers
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 2430, "valid": 270, "test": 300}
    assert ds.summary.split_class_counts["train"]["7"] == 243
    np.testing.assert_allclose(ds.class_weights(), 1.0)  # FSDD is balanced


def test_speaker_split_on_real_fsdd(shared_fsdd):
    ds = get_source(f"fsdd-speaker:{shared_fsdd}:theo").load()
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 2000, "valid": 500, "test": 500}
    assert all("_theo_" in ds.sources[i] for i in ds.splits["test"])
    assert all("_yweweler_" in ds.sources[i] for i in ds.splits["valid"])
