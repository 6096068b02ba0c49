"""The frontend module agrees with torchaudio, batches like single clips, and refuses bad settings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torchaudio.transforms as T

from nas.candidate import FrontendConfig
from nas.data.base import AudioDataset, make_summary
from nas.data.frontend import (
    LOG_FLOOR,
    Frontend,
    build_features,
    extract_features,
    fit_length,
    validate_frontend,
)
from nas.errors import ConfigError

# Log-mel / MFCC values agree with torchaudio to this absolute tolerance (natural-log units,
# 1e-4 = 0.0004 dB; observed <= 1e-5): only float32 rounding in |X|^2 and the products differs.
LOG_ATOL = 1e-4


def random_configs(n: int, seed: int = 0):
    """A seeded sample of valid frontend settings (hypothesis is not available here)."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        sr = int(rng.choice([8000, 16000, 22050]))
        win = float(rng.choice([16, 25, 32, 40, 64]))
        cfg = FrontendConfig(
            kind=str(rng.choice(["logmel", "mfcc"])), sample_rate=sr,
            clip_seconds=float(rng.choice([0.25, 0.5, 1.0])), win_ms=win,
            hop_ms=float(rng.choice([8, 10, 16, 20, 32])), n_mels=int(rng.integers(8, 65)),
            n_mfcc=int(rng.integers(5, 21)), pad_mode=str(rng.choice(["zeros", "wrap", "reflect"])),
        )
        try:
            validate_frontend(cfg)
        except ConfigError:
            continue
        out.append(cfg)
    return out


def torchaudio_reference(cfg: FrontendConfig) -> torch.nn.Module:
    melkwargs = dict(n_fft=cfg.n_fft, win_length=cfg.win_length, hop_length=cfg.hop_length, f_min=20.0,
                     f_max=cfg.sample_rate / 2, n_mels=cfg.n_mels, power=2.0, center=True, pad_mode="reflect")
    if cfg.kind == "mfcc":
        return T.MFCC(cfg.sample_rate, cfg.n_mfcc, norm="ortho", log_mels=True, melkwargs=melkwargs)
    mel = T.MelSpectrogram(cfg.sample_rate, **melkwargs)
    return lambda x: torch.log(mel(x) + LOG_FLOOR)


@pytest.mark.filterwarnings("ignore:At least one mel filterbank")
@pytest.mark.parametrize("cfg", random_configs(8), ids=lambda c: f"{c.kind}-{c.describe()}")
def test_matches_torchaudio_and_batches_like_single_clips(cfg):
    gen = torch.Generator().manual_seed(1)
    x = 0.3 * torch.randn(3, cfg.n_samples, generator=gen)
    x[1] *= 1e-4  # a quiet clip: the log floor matters
    frontend = Frontend(cfg)
    with torch.no_grad():
        ours = frontend(x)
        ref = torchaudio_reference(cfg)(x)
        single = torch.cat([frontend(x[i:i + 1]) for i in range(3)])
    assert ours.shape == (3, *cfg.feature_shape)
    torch.testing.assert_close(ours, ref, atol=LOG_ATOL, rtol=0)
    torch.testing.assert_close(ours, single, atol=1e-4, rtol=0)


def test_dataset_extraction_is_batch_independent():
    cfg = FrontendConfig(sample_rate=16000, clip_seconds=0.5, n_mels=20)
    rng = np.random.default_rng(0)
    clips = tuple(rng.standard_normal(n).astype(np.float32) * 0.1 for n in (3000, 8000, 12000, 40, 7000))
    ds = _dataset(clips, np.array([0, 1, 0, 1, 0]), rate=8000)
    a = extract_features(ds, cfg, batch=1)
    b = extract_features(ds, cfg, batch=4)
    assert a.shape == (5, *cfg.feature_shape) and np.isfinite(a).all()
    # float32 FFTs of another batch shape differ in the last bits (seen: 1e-5 relative on log-mels near 10)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mode", ["zeros", "wrap", "reflect"])
def test_padding_short_clips(mode):
    short = np.arange(1, 6, dtype=np.float32)
    out = fit_length(short, 12, mode)
    assert out.shape == (12,) and out.dtype == np.float32
    expected = {"zeros": [0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 0], "wrap": [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2],
                "reflect": [1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3, 4]}[mode]
    assert out.tolist() == expected
    assert fit_length(np.arange(10, dtype=np.float32), 4, mode).tolist() == [3, 4, 5, 6]  # centre crop


@pytest.mark.parametrize("field, value, message", [
    ("hop_ms", 0.01, "hop_ms=0.01: gives a hop of 0 samples"),
    ("hop_ms", -5.0, "hop_ms=-5.0: must be a positive number"),
    ("n_mels", 300, "n_mels=300: must be at most n_fft/2\\+1 = 257"),
    ("n_mfcc", 40, "n_mfcc=40: must be at most n_mels"),
    ("sample_rate", 0, "sample_rate=0: must be a positive number"),
    ("sample_rate", 16000.5, "sample_rate=16000.5: must be an integer"),
    ("clip_seconds", 0.01, "clip_seconds=0.01: gives 160 samples, shorter than one window"),
    ("kind", "cqt", "kind='cqt': must be one of logmel, mfcc"),
    ("pad_mode", "edge", "pad_mode='edge'"),
    ("normalization", "minmax", "normalization='minmax'"),
])
def test_validation_names_the_field(field, value, message):
    cfg = dataclasses.replace(FrontendConfig(kind="mfcc"), **{field: value})
    with pytest.raises(ConfigError, match=message):
        validate_frontend(cfg)
    with pytest.raises(ConfigError):
        Frontend(cfg)


def test_silent_and_short_clips_give_finite_features():
    cfg = FrontendConfig(kind="mfcc", sample_rate=8000, clip_seconds=0.5, n_mels=24)
    ds = _dataset((np.zeros(4000, np.float32), np.ones(7, np.float32) * 0.1), np.array([0, 1]), rate=8000)
    assert np.isfinite(extract_features(ds, cfg)).all()


def test_class_weights_come_from_the_training_split():
    labels = np.array([0] * 8 + [1] * 2 + [1] * 6)  # train: 8 vs 2, test: class 1 only
    rng = np.random.default_rng(0)
    clips = tuple(rng.standard_normal(800).astype(np.float32) * (i + 1) for i in range(16))
    ds = _dataset(clips, labels, rate=8000,
                  splits={"train": np.arange(10), "valid": np.arange(0), "test": np.arange(10, 16)})
    fs = build_features(ds, FrontendConfig(sample_rate=8000, clip_seconds=0.1, n_mels=16))
    np.testing.assert_allclose(fs.class_weights, [0.4, 1.6], rtol=1e-6)  # inverse of 8:2, mean 1
    x_train, _ = fs.split("train")  # global normalisation uses train statistics
    np.testing.assert_allclose(x_train.mean(axis=(0, 2)), 0.0, atol=1e-3)
    np.testing.assert_allclose(x_train.std(axis=(0, 2)), 1.0, atol=1e-2)


def _dataset(clips, labels, rate, splits=None):
    splits = splits or {"train": np.arange(len(labels)), "valid": np.arange(0), "test": np.arange(0)}
    summary = make_summary("t", ("a", "b"), labels, splits)
    return AudioDataset("t", ("a", "b"), rate, clips, labels, splits, "f" * 16, summary)
