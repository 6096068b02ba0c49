"""Audio frontends (log-mel, MFCC) and the feature matrices they produce for a dataset.

The frontend runs on the device before the model, so it is part of the searched candidate and is
priced by the hardware stage. Here it is a torch module built once from a :class:`FrontendConfig`
(window, mel filterbank and DCT as buffers); ``forward`` maps (batch, samples) -> (batch, features, frames).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torchaudio.functional as AF
import torchaudio.transforms as T

from nas.candidate import FrontendConfig
from nas.data.base import AudioDataset

log = logging.getLogger(__name__)

_LOG_FLOOR = 1e-6


class Frontend(torch.nn.Module):
    """Waveform (B, samples) at ``cfg.sample_rate`` -> features (B, n_features, n_frames)."""

    def __init__(self, cfg: FrontendConfig):
        super().__init__()
        self.cfg = cfg
        self.mel = T.MelSpectrogram(
            sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, win_length=cfg.win_length,
            hop_length=cfg.hop_length, n_mels=cfg.n_mels, power=2.0, center=True,
            f_min=20.0, f_max=cfg.sample_rate / 2,
        )
        if cfg.kind == "mfcc":
            self.register_buffer("dct", AF.create_dct(cfg.n_mfcc, cfg.n_mels, norm="ortho"))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = self.mel(wave)  # (B, n_mels, frames)
        logmel = torch.log(spec + _LOG_FLOOR)
        if self.cfg.kind == "mfcc":
            return torch.matmul(logmel.transpose(1, 2), self.dct).transpose(1, 2)  # (B, n_mfcc, frames)
        return logmel


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

    ``x`` is (N, n_features, n_frames) float32, already normalised as the frontend says.
    """

    x: np.ndarray
    y: np.ndarray
    splits: dict[str, np.ndarray]
    class_names: tuple[str, ...]
    frontend: FrontendConfig
    class_weights: np.ndarray

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        idx = self.splits[name]
        return self.x[idx], self.y[idx]

    @property
    def input_shape(self) -> tuple[int, int]:
        return (int(self.x.shape[1]), int(self.x.shape[2]))

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def _resample(wave: np.ndarray, orig: int, new: int) -> np.ndarray:
    if orig == new:
        return wave
    return AF.resample(torch.from_numpy(wave), orig, new).numpy()


@torch.no_grad()
def extract_features(dataset: AudioDataset, cfg: FrontendConfig, batch: int = 256) -> np.ndarray:
    """Raw (unnormalised) features of every clip: (N, n_features, n_frames) float32."""
    frontend = Frontend(cfg).eval()
    waves = np.stack([
        fit_length(_resample(c, dataset.sample_rate, cfg.sample_rate), cfg.n_samples, cfg.pad_mode)
        for c in dataset.clips
    ]).astype(np.float32)
    out = [frontend(torch.from_numpy(waves[i:i + batch])).numpy() for i in range(0, len(waves), batch)]
    return np.concatenate(out).astype(np.float32)


def normalize(raw: np.ndarray, train_idx: np.ndarray, mode: str) -> np.ndarray:
    if mode == "global":
        mean = raw[train_idx].mean(axis=(0, 2), keepdims=True)
        std = raw[train_idx].std(axis=(0, 2), keepdims=True) + 1e-5
        return ((raw - mean) / std).astype(np.float32)
    if mode == "per_clip":
        mean = raw.mean(axis=(1, 2), keepdims=True)
        std = raw.std(axis=(1, 2), keepdims=True) + 1e-5
        return ((raw - mean) / std).astype(np.float32)
    return raw


def build_features(dataset: AudioDataset, cfg: FrontendConfig, raw: np.ndarray | None = None) -> FeatureSet:
    """Normalised :class:`FeatureSet` of ``dataset``; pass ``raw`` to reuse cached features."""
    if raw is None:
        raw = extract_features(dataset, cfg)
    x = normalize(raw, dataset.splits["train"], cfg.normalization)
    return FeatureSet(x, dataset.labels, dataset.splits, dataset.class_names, cfg, dataset.class_weights())
