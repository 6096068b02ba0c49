"""Training: augmentation (exact where the maths says so), kept best weights, the chance-level stop, devices."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import numpy as np
import pytest
import torch

from nas.candidate import ArchConfig, FrontendConfig, TrainConfig
from nas.data import FeatureCache
from nas.data.augment import Augmenter
from nas.data.frontend import Frontend, build_features
from nas.errors import ConfigError
from nas.models import build_model
from nas.train import DeviceFeatures, accuracy, cuda_available, not_learning_reason, predict, resolve_device, train

FE = FrontendConfig(n_mels=16, hop_ms=32, normalization="global")


@pytest.fixture(scope="module")
def feats(small_dataset):
    return build_features(small_dataset, FE)


def _raw(feats, rows):
    offset, scale = feats.split_stats("train")
    x = feats.split("train")[0][rows]
    return x * (scale[rows] if len(scale) > 1 else scale) + (offset[rows] if len(offset) > 1 else offset)


# --- augmentation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
def test_gain_in_the_feature_domain_equals_the_frontend_of_the_scaled_waveform(kind):
    cfg = FrontendConfig(kind=kind, sample_rate=8000, n_mels=20, n_mfcc=20, hop_ms=16, normalization="none")
    rng = np.random.default_rng(0)
    wave = (0.3 * rng.standard_normal((4, cfg.n_samples))).astype(np.float32)
    fe = Frontend(cfg)
    with torch.no_grad():
        raw, louder = fe(torch.from_numpy(wave)), fe(torch.from_numpy(wave * 0.1))  # -20 dB
    fs = build_features(_one_class(wave), cfg)
    aug = Augmenter(fs, TrainConfig(gain_db=20), seed=0)
    got = aug._power_op(raw, lambda p: p * 0.01)
    # n_mfcc == n_mels: the DCT is square and the MFCC path is exact too
    assert torch.allclose(got, louder, atol=2e-3), float((got - louder).abs().max())


def test_noise_mixing_matches_the_frontend_of_the_mixed_waveform():
    cfg = FrontendConfig(sample_rate=8000, n_mels=20, hop_ms=16, normalization="none")
    rng = np.random.default_rng(1)
    t = np.arange(cfg.n_samples) / cfg.sample_rate
    speech = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    noise = (0.05 * rng.standard_normal(cfg.n_samples)).astype(np.float32)[None]
    fe = Frontend(cfg)
    with torch.no_grad():
        s, n, mixed = fe(torch.from_numpy(speech)), fe(torch.from_numpy(noise)), fe(torch.from_numpy(speech + noise))
    fs = build_features(_one_class(speech), cfg)
    aug = Augmenter(fs, TrainConfig(), seed=0)
    ps, pn = s.exp() - 1e-6, n.exp() - 1e-6
    got = aug._power_op(s, lambda p: p + pn)  # mixing at the waveforms' own ratio
    err = (got - mixed).abs()
    # only the cross term of the two spectra is missing: small where either dominates
    assert float(err.median()) < 0.1 and float(err.mean()) < 0.3
    del ps


def test_time_shift_moves_frames_and_fills_with_silence(feats):
    cfg = TrainConfig(time_shift_ms=FE.hop_ms * 3)
    aug = Augmenter(feats, cfg, seed=3)
    x, y = (torch.from_numpy(a) for a in feats.split("train"))
    rows = torch.arange(16)
    out = aug(x[:16], y[:16], rows).x
    raw_in = torch.from_numpy(_raw(feats, np.arange(16)))
    raw_out = out * torch.from_numpy(feats.scale) + torch.from_numpy(feats.offset)
    silence = torch.from_numpy(feats.silence).view(-1, 1)
    shifts = set()
    for i in range(16):
        match = [k for k in range(-3, 4) if torch.allclose(
            raw_out[i, :, max(0, k):raw_out.shape[2] + min(0, k)],
            raw_in[i, :, max(0, -k):raw_in.shape[2] - max(0, k)], atol=1e-4)]
        assert match, f"clip {i} is not a shifted copy"
        k = match[0]
        shifts.add(k)
        gap = raw_out[i, :, :k] if k > 0 else raw_out[i, :, raw_out.shape[2] + k:]
        assert torch.allclose(gap, silence.expand_as(gap), atol=1e-4)
    assert len(shifts) > 1  # different clips, different shifts


def test_augmentation_is_deterministic_from_the_seed_and_leaves_the_features_alone(feats):
    cfg = TrainConfig(time_shift_ms=100, gain_db=10, time_masks=2, time_mask_frames=3, freq_masks=2,
                      freq_mask_bins=3, mixup_alpha=0.4)
    x, y = (torch.from_numpy(a) for a in feats.split("train"))
    before = feats.x.copy()
    a, b, c = (Augmenter(feats, cfg, seed=s)(x[:32], y[:32], torch.arange(32)) for s in (5, 5, 6))
    assert torch.equal(a.x, b.x) and torch.equal(a.y2, b.y2) and a.lam == b.lam
    assert not torch.equal(a.x, c.x)
    assert not torch.equal(a.x, x[:32])
    assert np.array_equal(feats.x, before)  # augmentation never writes into the cached features
    assert 0.0 <= a.lam <= 1.0 and sorted(a.y2.tolist()) == sorted(y[:32].tolist())


def test_spec_masks_zero_at_most_the_configured_bands_and_frames(feats):
    cfg = TrainConfig(time_masks=2, time_mask_frames=4, freq_masks=1, freq_mask_bins=3)
    x, y = (torch.from_numpy(a) for a in feats.split("train"))
    out = Augmenter(feats, cfg, seed=1)(x[:64], y[:64], torch.arange(64)).x
    zero_t = (out == 0).all(dim=1).sum(dim=1)  # fully masked frames per clip
    zero_f = (out == 0).all(dim=2).sum(dim=1)
    assert int(zero_t.max()) <= 8 and int(zero_f.max()) <= 3
    assert int(zero_t.sum()) > 0 and int(zero_f.sum()) > 0
    kept = out != 0
    assert torch.equal(out[kept], x[:64][kept])


def test_noise_from_a_folder_dataset_is_cached_and_not_a_class(tmp_path):
    from nas.data import get_source
    from tests.data.data_helpers import tone, write_wav

    for c, f in (("hi", 900.0), ("lo", 300.0)):
        for i in range(6):
            write_wav(tmp_path / "ds" / c / f"{i}.wav", tone(f + 10 * i, 0.5, 16000), 16000)
    rng = np.random.default_rng(0)
    write_wav(tmp_path / "ds" / "noise" / "hum.wav", (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32), 16000)
    ds = get_source(f"folder:{tmp_path / 'ds'}").load()
    assert ds.class_names == ("hi", "lo") and len(ds.noise) == 1
    cache = FeatureCache(tmp_path / "cache")
    fs = cache.features(ds, FE)
    assert fs.noise is not None and fs.noise.shape[1:] == fs.input_shape
    assert list((tmp_path / "cache").rglob("*-noise-*.npy"))
    again = FeatureCache(tmp_path / "cache").features(ds, FE)
    assert np.array_equal(again.noise, fs.noise)
    cfg = TrainConfig(noise_prob=1.0, noise_snr_db=0, noise_snr_max_db=0)
    x, y = (torch.from_numpy(a) for a in fs.split("train"))
    out = Augmenter(fs, cfg, seed=0)(x, y, torch.arange(len(x))).x
    assert float((out - x).abs().mean()) > 0.1  # 0 dB noise changes every clip


# --- training -------------------------------------------------------------------------------------

def test_kept_best_weights_are_the_best_validation_epoch(feats):
    # a learning rate high enough that the last epoch is worse than the best one (checked below)
    cfg = TrainConfig(epochs=8, learning_rate=0.2, optimizer="adam", batch_size=16, chance_epochs=0)
    arch = ArchConfig.of("mlp", hidden=32, n_layers=2)
    torch.manual_seed(0)
    model = build_model(arch, feats.input_shape, feats.n_classes)
    r = train(model, feats, cfg, seed=0)
    vals = [h["val_accuracy"] for h in r.history]
    assert r.val_accuracy == max(vals) and vals[r.best_epoch - 1] == max(vals)
    assert accuracy(predict(model, feats.split("valid")[0]), feats.split("valid")[1]) == pytest.approx(max(vals))
    torch.manual_seed(0)
    last = build_model(arch, feats.input_shape, feats.n_classes)
    r_last = train(last, feats, replace(cfg, keep_best=False), seed=0)
    assert r_last.val_accuracy == pytest.approx(r_last.history[-1]["val_accuracy"])
    assert vals[-1] < max(vals), "the setting must end below its best epoch for this test to mean anything"
    assert r.val_accuracy > r_last.val_accuracy


def test_validation_is_never_augmented(feats):
    """With masks that blank most of every training clip, the reported accuracy is still that of clean data."""
    cfg = TrainConfig(epochs=2, time_masks=4, time_mask_frames=20, freq_masks=2, freq_mask_bins=8, chance_epochs=0)
    torch.manual_seed(0)
    model = build_model(ArchConfig.of("cnn", channels=8, n_blocks=1), feats.input_shape, feats.n_classes)
    r = train(model, feats, cfg, seed=0)
    assert r.val_accuracy == pytest.approx(accuracy(predict(model, feats.split("valid")[0]), feats.split("valid")[1]))


def test_a_model_that_memorises_without_generalising_is_stopped_as_not_learning(feats):
    """Shuffled training labels: the loss falls (memorisation), validation stays at chance."""
    rng = np.random.default_rng(0)
    y = feats.y.copy()
    tr = feats.splits["train"]
    y[tr] = rng.permutation(y[tr])
    shuffled = dataclasses.replace(feats, y=y)
    cfg = TrainConfig(epochs=12, learning_rate=0.01, batch_size=16, chance_epochs=4, chance_margin=0.15,
                      class_weighted=False)
    torch.manual_seed(0)
    model = build_model(ArchConfig.of("mlp", hidden=128, n_layers=2, context=2), feats.input_shape, feats.n_classes)
    r = train(model, shuffled, cfg, seed=0)
    assert r.not_learning and "does not learn with these settings" in r.not_learning
    assert r.stopped_early and 4 <= r.epochs_run < 12
    assert r.history[-1]["loss"] < 0.9 * r.history[0]["loss"]


def test_not_learning_needs_a_falling_loss_and_chance_accuracy():
    cfg = TrainConfig(chance_epochs=3, chance_margin=0.1)
    falling = [{"loss": v} for v in (2.3, 1.8, 1.2)]
    flat = [{"loss": v} for v in (2.3, 2.3, 2.25)]
    assert not_learning_reason(falling, 0.12, 0.1, cfg) is not None
    assert not_learning_reason(flat, 0.12, 0.1, cfg) is None  # not fitting anything: not this rule
    assert not_learning_reason(falling, 0.5, 0.1, cfg) is None  # learning
    assert not_learning_reason(falling[:2], 0.12, 0.1, cfg) is None  # too early
    assert not_learning_reason(falling, 0.12, 0.1, replace(cfg, chance_epochs=0)) is None  # rule off


def test_epoch_time_is_mostly_forward_and_backward(feats):
    cfg = TrainConfig(epochs=2, time_shift_ms=64, gain_db=6, time_masks=1, time_mask_frames=3, chance_epochs=0)
    torch.manual_seed(0)
    model = build_model(ArchConfig.of("dscnn", channels=16, n_blocks=2), feats.input_shape, feats.n_classes)
    r = train(model, feats, cfg)
    for h in r.history:
        assert 0 < h["compute_seconds"] <= h["seconds"]
    # loose bound here (shared CI cores); benchmarks/bench_training.py measures the 10 % target
    assert sum(h["compute_seconds"] for h in r.history) / sum(h["seconds"] for h in r.history) > 0.6


# --- devices --------------------------------------------------------------------------------------

def test_device_selection_on_this_machine(monkeypatch):
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if cuda_available() else "cpu")
    with pytest.raises(ConfigError, match="accelerator 'tpu'"):
        resolve_device("tpu")
    monkeypatch.setattr("nas.train.cuda_available", lambda: False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(ConfigError, match="no CUDA device.*CUDA_VISIBLE_DEVICES=''"):
        resolve_device("cuda")


def test_worker_refuses_cuda_without_one(tmp_path, monkeypatch):
    from nas.study.worker import Worker, WorkerOptions

    monkeypatch.setattr("nas.train.cuda_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA device"):
        Worker(f"sqlite:///{tmp_path / 'nas.db'}", options=WorkerOptions(accelerator="cuda"))


@pytest.mark.skipif(not cuda_available(), reason="needs a CUDA device (none visible to torch here)")
def test_training_on_cuda_matches_the_cpu_and_hands_the_model_back_on_the_cpu(feats):
    cfg = TrainConfig(epochs=3, time_shift_ms=64, gain_db=6, time_masks=1, time_mask_frames=3, chance_epochs=0)
    accs = {}
    for dev in ("cpu", "cuda"):
        torch.manual_seed(0)
        model = build_model(ArchConfig.of("dscnn", channels=16, n_blocks=2), feats.input_shape, feats.n_classes)
        r = train(model, feats, cfg, tensors=DeviceFeatures.of(feats, dev), seed=0)
        assert r.device.startswith(dev)
        assert all(p.device.type == "cpu" for p in model.parameters())
        accs[dev] = r.val_accuracy
    assert abs(accs["cpu"] - accs["cuda"]) < 0.2  # bfloat16 autocast: close, not bit-identical


def _one_class(waves: np.ndarray):
    from nas.data.base import AudioDataset, make_summary

    labels = np.zeros(len(waves), dtype=np.int64)
    splits = {"train": np.arange(len(waves)), "valid": np.arange(len(waves)), "test": np.arange(len(waves))}
    return AudioDataset("t", ("a",), 8000, tuple(waves), labels, splits, "fp",
                        make_summary("t", ("a",), labels, splits))


def test_nas_worker_accelerator_flag(tmp_path, monkeypatch, capsys):
    from nas.cli import main

    monkeypatch.setattr("nas.train.cuda_available", lambda: False)
    assert main(["worker", "--db", f"sqlite:///{tmp_path / 'nas.db'}", "--accelerator", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["worker", "--accelerator", "gpu"])  # argparse refuses names it does not offer


@pytest.mark.parametrize("env, expected", [({"SLURM_JOB_GPUS": "0"}, "cuda"), ({"SLURM_GPUS_ON_NODE": "1"}, "cuda"),
                                           ({}, "auto"), ({"SLURM_JOB_GPUS": "0", "NAS_ACCELERATOR": "cpu"}, "cpu")])
def test_slurm_script_asks_for_cuda_when_given_a_gpu(tmp_path, env, expected):
    """Runs the real script with ``nas`` replaced by a program that prints its arguments."""
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "deploy" / "slurm" / "worker.sbatch"
    assert "--gres=gpu:1" in script.read_text()  # the documented way to ask for a GPU
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "nas"
    fake.write_text('#!/bin/sh\necho "$@"\n')
    fake.chmod(0o755)
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NAS_DB_URL": "sqlite:///x.db",
            "NAS_VENV": str(tmp_path), "TMPDIR": str(tmp_path)}
    out = subprocess.run(["bash", str(script)], env={**base, **env}, capture_output=True, text=True, check=True).stdout
    assert f"--accelerator {expected}" in out


@pytest.mark.parametrize("section, message", [
    ({"training": {"time_shift_ms": -5}}, "x.yaml: training.time_shift_ms: must be >= 0"),
    ({"training": {"freq_masks": {"int": [-1, 2]}}}, "x.yaml: training.freq_masks: must be >= 0"),
    ({"training": {"noise_prob": 1.5}}, "x.yaml: training.noise_prob: must lie in [0, 1]"),
    ({"training": {"noise_snr_db": 30, "noise_snr_max_db": 10}}, "x.yaml: training.noise_snr_db: 30 dB exceeds"),
    ({"training": {"gain_db": "loud"}}, "x.yaml: training.gain_db: expected float"),
    ({"training": {"keep_best": "yes"}}, "x.yaml: training.keep_best: expected bool"),
    ({"frontend": {"level": "rms"}}, "x.yaml: frontend.level: 'rms' is not one of"),
])
def test_space_schema_names_file_and_key_for_training_settings(section, message):
    from nas.space import parse_space

    with pytest.raises(ConfigError) as e:
        parse_space({"families": {"cnn": {}}, **section}, "x.yaml")
    assert str(e.value).startswith(message)


def test_shipped_kws_space_augments_and_keeps_best_weights():
    from nas.space import load_space

    space = load_space("kws")
    cfg = TrainConfig(**{k: s.values[0] for k, s in space.training.items() if s.kind == "fixed"})
    assert cfg.augments and cfg.keep_best and cfg.chance_epochs > 0
    assert space.frontend["level"].values == ("peak",)
