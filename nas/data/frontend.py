"""Audio frontends (log-mel, MFCC) and the feature matrices they produce for a dataset.

The frontend runs on the device before the model, so it is part of the searched candidate and is
priced by the hardware stage. Here it is a torch module built once from a :class:`FrontendConfig`
(window, mel filterbank and DCT as buffers); ``forward`` maps (batch, samples) -> (batch, features,
frames) with the same numbers as torchaudio's ``MelSpectrogram`` + log (checked by the tests).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from numbers import Real

import numpy as np
import torch
import torchaudio.functional as AF

from nas.candidate import FrontendConfig
from nas.data.audio import resample
from nas.data.base import AudioDataset
from nas.errors import ConfigError

log = logging.getLogger(__name__)

LOG_FLOOR = 1e-6  # added to mel energies before the log (torchaudio's MFCC uses the same)
F_MIN = 20.0
NORM_EPS = 1e-5  # added to the standard deviation of ``global`` / ``per_clip`` normalization
FRONTEND_VERSION = "frontend-v2"  # part of feature-cache keys: bump when the numbers change
NOISE_SEGMENTS = 256  # background-noise segments kept as features for noise-mixing augmentation


def validate_frontend(cfg: FrontendConfig) -> None:
    """Refuse settings that cannot produce features, naming the field.

    Raises:
        ConfigError: e.g. ``hop_ms`` giving a hop of 0 samples, ``n_mels`` above ``n_fft/2+1``.
    """
    def bad(name: str, why: str) -> ConfigError:
        return ConfigError(f"frontend {name}={getattr(cfg, name)!r}: {why}")

    choices = {"kind": ("logmel", "mfcc"), "pad_mode": ("zeros", "wrap", "reflect"),
               "normalization": ("none", "global", "per_clip"), "level": ("none", "peak")}
    for name, allowed in choices.items():
        if getattr(cfg, name) not in allowed:
            raise bad(name, f"must be one of {', '.join(allowed)}")
    for name in ("sample_rate", "clip_seconds", "win_ms", "hop_ms", "n_mels", "n_mfcc"):
        value = getattr(cfg, name)
        if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            raise bad(name, "must be a positive number")
    for name in ("sample_rate", "n_mels", "n_mfcc"):
        if int(getattr(cfg, name)) != getattr(cfg, name):
            raise bad(name, "must be an integer")
    if cfg.sample_rate < 1000:
        raise bad("sample_rate", "must be at least 1000 Hz")
    if cfg.win_length < 2:
        raise bad("win_ms", f"gives a window of {cfg.win_length} sample(s) at {cfg.sample_rate} Hz")
    if cfg.hop_length < 1:
        raise bad("hop_ms", f"gives a hop of 0 samples at {cfg.sample_rate} Hz")
    if cfg.n_samples < cfg.win_length:
        raise bad("clip_seconds",
                  f"gives {cfg.n_samples} samples, shorter than one window ({cfg.win_length})")
    if cfg.n_mels > cfg.n_fft // 2 + 1:
        limit = cfg.n_fft // 2 + 1
        raise bad("n_mels", f"must be at most n_fft/2+1 = {limit} for a {cfg.win_ms:g} ms window")
    if cfg.kind == "mfcc" and cfg.n_mfcc > cfg.n_mels:
        raise bad("n_mfcc", f"must be at most n_mels ({cfg.n_mels})")


class Frontend(torch.nn.Module):
    """Waveform (B, samples) at ``cfg.sample_rate`` -> features (B, n_features, n_frames).

    Power STFT (Hann window of ``win_length`` centred in ``n_fft``, centred frames with reflect
    padding), HTK mel filterbank from 20 Hz to Nyquist, ``log(mel + 1e-6)``, then an orthonormal
    DCT-II for MFCC. ``n_frames = 1 + samples // hop_length``.
    """

    window: torch.Tensor  # buffers registered in __init__ (``dct`` for MFCC only)
    mel_fb: torch.Tensor
    dct: torch.Tensor

    def __init__(self, cfg: FrontendConfig):
        super().__init__()
        validate_frontend(cfg)
        self.cfg = cfg
        window = torch.hann_window(cfg.win_length, periodic=True)
        left = (cfg.n_fft - cfg.win_length) // 2
        right = cfg.n_fft - cfg.win_length - left
        self.register_buffer("window", torch.nn.functional.pad(window, (left, right)))  # (n_fft,)
        fb = AF.melscale_fbanks(cfg.n_fft // 2 + 1, F_MIN, cfg.sample_rate / 2, cfg.n_mels, cfg.sample_rate)
        self.register_buffer("mel_fb", fb)  # (n_fft/2+1, n_mels)
        if cfg.kind == "mfcc":
            dct = AF.create_dct(cfg.n_mfcc, cfg.n_mels, norm="ortho")
            self.register_buffer("dct", dct)  # (n_mels, n_mfcc)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave, self.cfg.n_fft, self.cfg.hop_length, window=self.window, center=True,
                          pad_mode="reflect", return_complex=True)  # (B, n_fft/2+1, frames)
        power = spec.real.square() + spec.imag.square()
        mel = torch.matmul(power.transpose(1, 2), self.mel_fb)  # (B, frames, n_mels)
        logmel = torch.log(mel + LOG_FLOOR)
        if self.cfg.kind == "mfcc":
            return torch.matmul(logmel, self.dct).transpose(1, 2)  # (B, n_mfcc, frames)
        return logmel.transpose(1, 2)  # (B, n_mels, frames)


def fit_length(wave: np.ndarray, n: int, pad_mode: str) -> np.ndarray:
    """Cut to ``n`` samples (centre crop) or pad short clips (``zeros``, ``wrap`` or ``reflect``)."""
    if len(wave) >= n:
        start = (len(wave) - n) // 2
        return wave[start:start + n]
    if len(wave) == 0:
        return np.zeros(n, dtype=np.float32)
    if pad_mode == "zeros":
        out = np.zeros(n, dtype=np.float32)
        start = (n - len(wave)) // 2
        out[start:start + len(wave)] = wave
        return out
    if pad_mode == "reflect" and len(wave) > 1:
        # numpy's reflect needs pad < len; repeat reflecting until long enough.
        out = wave
        while len(out) < n:
            pad = min(len(out) - 1, n - len(out))
            out = np.pad(out, (0, pad), mode="reflect")
        return out[:n].astype(np.float32)
    return np.resize(wave, n).astype(np.float32)  # wrap


@dataclass(frozen=True, eq=False)
class FeatureSet:
    """Features of every clip of a dataset under one frontend, ready for training and evaluation.

    ``x`` is (N, n_features, n_frames) float32, already normalised as the frontend says;
    ``class_weights`` come from the training split (inverse frequency, mean 1).
    """

    x: np.ndarray
    y: np.ndarray
    splits: dict[str, np.ndarray]
    class_names: tuple[str, ...]
    frontend: FrontendConfig
    class_weights: np.ndarray
    # raw = x * scale + offset: (1, F, 1) for ``global``, (N, 1, 1) for ``per_clip``, (1, 1, 1) for ``none``;
    # augmentation works on raw log-mel energies and normalises again.
    offset: np.ndarray = field(default_factory=lambda: np.zeros((1, 1, 1), np.float32))
    scale: np.ndarray = field(default_factory=lambda: np.ones((1, 1, 1), np.float32))
    silence: np.ndarray | None = None  # (F,) raw frame of a silent input: what a time shift fills in
    noise: np.ndarray | None = None  # (K, F, T) raw features of background-noise segments, if any

    @property
    def norm_mean(self) -> np.ndarray | None:
        """(n_features,) mean of ``global`` normalization; None otherwise."""
        return self.offset.ravel() if self.frontend.normalization == "global" else None

    @property
    def norm_std(self) -> np.ndarray | None:
        return self.scale.ravel() if self.frontend.normalization == "global" else None

    def normalization(self) -> dict[str, object]:
        """What the device must apply to its raw features: ``(raw - mean[f]) / std[f]`` (``global``)."""
        d: dict[str, object] = {"mode": self.frontend.normalization, "epsilon": NORM_EPS}
        if self.norm_mean is not None and self.norm_std is not None:
            d.update(mean=[float(v) for v in self.norm_mean], std=[float(v) for v in self.norm_std])
        return d

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        idx = self.splits[name]
        return self.x[idx], self.y[idx]

    def split_stats(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(offset, scale) of ``name``'s clips, broadcastable against ``split(name)[0]``."""
        idx = self.splits[name]
        pick = (lambda a: a[idx]) if len(self.offset) > 1 else (lambda a: a)
        return pick(self.offset), pick(self.scale)

    @property
    def input_shape(self) -> tuple[int, int]:
        return (int(self.x.shape[1]), int(self.x.shape[2]))

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def fixed_length_waves(clips: tuple[np.ndarray, ...] | list[np.ndarray], rate: int, cfg: FrontendConfig
                       ) -> np.ndarray:
    """(N, cfg.n_samples) float32: clips cut/padded at their own ``rate`` (and peak-normalised when
    ``cfg.level`` is ``peak``), then resampled as a batch."""
    n_src = int(math.ceil(cfg.clip_seconds * rate))
    waves = np.stack([fit_length(c, n_src, cfg.pad_mode) for c in clips]).astype(np.float32)
    if cfg.level == "peak":
        peak = np.abs(waves).max(axis=1, keepdims=True)
        waves = np.where(peak > 0, waves / np.maximum(peak, 1e-12), waves).astype(np.float32)
    waves = resample(waves, rate, cfg.sample_rate)  # (N, ~n_samples)
    if waves.shape[1] >= cfg.n_samples:
        return np.ascontiguousarray(waves[:, :cfg.n_samples])
    return np.pad(waves, ((0, 0), (0, cfg.n_samples - waves.shape[1])))


@torch.no_grad()
def extract_features(dataset: AudioDataset, cfg: FrontendConfig, batch: int = 256) -> np.ndarray:
    """Raw (unnormalised) features of every clip: (N, n_features, n_frames) float32."""
    frontend = Frontend(cfg).eval()
    out = np.empty((len(dataset.clips), *cfg.feature_shape), dtype=np.float32)
    for i in range(0, len(dataset.clips), batch):
        waves = fixed_length_waves(dataset.clips[i:i + batch], dataset.sample_rate, cfg)
        out[i:i + len(waves)] = frontend(torch.from_numpy(waves)).numpy()
    return out


def normalization_stats(raw: np.ndarray, train_idx: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(offset, scale) with ``normalised = (raw - offset) / scale``.

    ``global``: per-coefficient mean/std of the training split; ``per_clip``: each clip's own mean/std
    (removes the recording level); ``none``: 0 and 1."""
    if mode == "global":
        return (raw[train_idx].mean(axis=(0, 2), keepdims=True).astype(np.float32),
                (raw[train_idx].std(axis=(0, 2), keepdims=True) + NORM_EPS).astype(np.float32))
    if mode == "per_clip":
        return (raw.mean(axis=(1, 2), keepdims=True).astype(np.float32),
                (raw.std(axis=(1, 2), keepdims=True) + NORM_EPS).astype(np.float32))
    return np.zeros((1, 1, 1), np.float32), np.ones((1, 1, 1), np.float32)


def normalize(raw: np.ndarray, train_idx: np.ndarray, mode: str) -> np.ndarray:
    """``global``: per-coefficient mean/std of the training split; ``per_clip``; or ``none``."""
    if mode not in ("global", "per_clip"):
        return raw
    offset, scale = normalization_stats(raw, train_idx, mode)
    return ((raw - offset) / scale).astype(np.float32)


@torch.no_grad()
def silence_frame(cfg: FrontendConfig) -> np.ndarray:
    """(F,) raw features of a silent frame: what a time shift moves in."""
    return Frontend(cfg).eval()(torch.zeros(1, cfg.n_samples))[0, :, cfg.n_frames // 2].numpy().astype(np.float32)


@torch.no_grad()
def noise_features(noise: tuple[np.ndarray, ...], rate: int, cfg: FrontendConfig, n: int = NOISE_SEGMENTS,
                   seed: int = 0) -> np.ndarray:
    """Raw features (n, F, T) of ``n`` clip-length segments cut at random (by ``seed``) from ``noise``."""
    rng = np.random.default_rng(seed)
    n_src = int(math.ceil(cfg.clip_seconds * rate))
    segments = []
    for _ in range(n):
        clip = noise[int(rng.integers(len(noise)))]
        start = int(rng.integers(0, max(1, len(clip) - n_src + 1)))
        segments.append(clip[start:start + n_src])
    frontend = Frontend(cfg).eval()
    waves = fixed_length_waves(segments, rate, cfg)
    return frontend(torch.from_numpy(waves)).numpy().astype(np.float32)


def build_features(dataset: AudioDataset, cfg: FrontendConfig, raw: np.ndarray | None = None,
                   noise: np.ndarray | None = None) -> FeatureSet:
    """Normalised :class:`FeatureSet` of ``dataset``; pass ``raw`` (and ``noise``) to reuse cached features.

    Noise features are computed here when the dataset has noise recordings and ``noise`` is not given."""
    if raw is None:
        raw = extract_features(dataset, cfg)
    if noise is None and dataset.noise:
        noise = noise_features(dataset.noise, dataset.sample_rate, cfg)
    offset, scale = normalization_stats(raw, dataset.splits["train"], cfg.normalization)
    x = ((raw - offset) / scale).astype(np.float32) if cfg.normalization in ("global", "per_clip") else raw
    return FeatureSet(x, dataset.labels, dataset.splits, dataset.class_names, cfg, dataset.class_weights(),
                      offset=offset, scale=scale, silence=silence_frame(cfg), noise=noise)
