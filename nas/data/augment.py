"""Training-time augmentation of feature batches: time shift, level, background noise, SpecAugment, mixup.

Augmentation works on the cached features, not on waveforms: the feature cache stays the one place
the frontend runs (an STFT per batch would cost more than the forward/backward of a small KWS model
on a CPU), and every operation below is a few tensor ops on the batch, on the device it trains on.
Level and noise act on mel *power*, where they are exact for log-mel features:

- ``gain_db``: ``log(g * (exp(L) - floor) + floor)`` with ``g`` drawn within +-gain_db;
- noise: ``log(P + s * Pn + floor)``, with ``Pn`` the mel power of a random background-noise segment
  (computed once by the same frontend, see :func:`nas.data.frontend.noise_features`) and ``s`` giving a
  signal-to-noise ratio drawn from [noise_snr_db, noise_snr_max_db] (mean mel powers). Mixing powers
  drops the cross term of the two spectra, whose expectation is zero.

For MFCC features the log-mel change is mapped through the DCT: ``mfcc + D^T (f(D m) - D m)`` with the
orthonormal DCT ``D`` (n_mels x n_mfcc); ``D m`` is the cepstrally smoothed log-mel, so level and noise
are approximate there (exact for the level when nothing is near the log floor). A time shift moves
whole frames and fills the gap with the frontend's own silent frame; SpecAugment masks set bands or
frames to 0, the training mean after normalisation. Mixup mixes pairs within the batch.

Random draws come from one CPU ``torch.Generator`` seeded by the trial: the same seed gives the same
batches on a CPU and a GPU. Validation and test data never pass through here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torchaudio.functional as AF

from nas.candidate import TrainConfig
from nas.data.frontend import LOG_FLOOR, FeatureSet


@dataclass
class Batch:
    """An augmented batch: features, labels, and (for mixup) the partner labels and the mixing weight."""

    x: torch.Tensor  # (B, F, T)
    y: torch.Tensor  # (B,)
    y2: torch.Tensor | None = None
    lam: float = 1.0


class Augmenter:
    """Augments normalised training batches of ``feats`` as ``cfg`` says, on ``device``.

    ``__call__(x, y, rows)`` takes a batch of the training split and ``rows``, the batch's positions in
    that split (per-clip normalisation statistics are looked up by them).
    """

    def __init__(self, feats: FeatureSet, cfg: TrainConfig, device: torch.device | str = "cpu", seed: int = 0):
        self.cfg = cfg
        self.device = torch.device(device)
        self.gen = torch.Generator().manual_seed(int(seed) * 7919 + 17)
        self.np_rng = np.random.default_rng(int(seed) * 7919 + 17)
        fe = feats.frontend
        self.mode = fe.normalization
        self.shift = int(round(cfg.time_shift_ms / fe.hop_ms)) if cfg.time_shift_ms > 0 else 0
        offset, scale = feats.split_stats("train")
        self.offset = torch.as_tensor(offset, device=self.device)
        self.scale = torch.as_tensor(scale, device=self.device)
        silence = feats.silence if feats.silence is not None else feats.x.min(axis=(0, 2))
        self.silence = torch.as_tensor(silence, device=self.device).view(1, -1, 1)
        self.dct: torch.Tensor | None = None
        if fe.kind == "mfcc":  # (n_mels, n_mfcc), orthonormal columns
            self.dct = AF.create_dct(fe.n_mfcc, fe.n_mels, norm="ortho").to(self.device)
        self.noise: torch.Tensor | None = None
        if cfg.noise_prob > 0 and feats.noise is not None and len(feats.noise):
            self.noise = torch.as_tensor(feats.noise, device=self.device)
        self.uses_raw = bool(self.shift or cfg.gain_db > 0 or self.noise is not None)

    @property
    def active(self) -> bool:
        c = self.cfg
        return bool(self.uses_raw or (c.time_masks > 0 and c.time_mask_frames > 0)
                    or (c.freq_masks > 0 and c.freq_mask_bins > 0) or c.mixup_alpha > 0)

    def _rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=self.gen).to(self.device)

    def _randint(self, high: int, *shape: int) -> torch.Tensor:
        return torch.randint(0, max(1, high), shape, generator=self.gen).to(self.device)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> Batch:
        if not self.active:
            return Batch(x, y)
        if self.uses_raw:
            x = self._normalise(self._raw_ops(self._raw(x, rows)))
        x = self._masks(x)
        if self.cfg.mixup_alpha > 0 and len(x) > 1:
            lam = float(self.np_rng.beta(self.cfg.mixup_alpha, self.cfg.mixup_alpha))
            perm = torch.randperm(len(x), generator=self.gen).to(self.device)
            return Batch(lam * x + (1 - lam) * x[perm], y, y[perm], lam)
        return Batch(x, y)

    # --- raw (unnormalised) domain ---------------------------------------------------------------

    def _raw(self, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        if self.mode == "per_clip":
            return x * self.scale[rows] + self.offset[rows]
        return x * self.scale + self.offset

    def _normalise(self, raw: torch.Tensor) -> torch.Tensor:
        if self.mode == "global":
            return (raw - self.offset) / self.scale
        if self.mode == "per_clip":
            return (raw - raw.mean(dim=(1, 2), keepdim=True)) / (raw.std(dim=(1, 2), keepdim=True) + 1e-5)
        return raw

    def _to_logmel(self, raw: torch.Tensor) -> torch.Tensor:
        return raw if self.dct is None else torch.einsum("mk,bkt->bmt", self.dct, raw)

    def _power_op(self, raw: torch.Tensor, op: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """Apply ``op`` to the mel power of ``raw`` (log-mel or MFCC) and return the same kind."""
        logmel = self._to_logmel(raw)
        new = torch.log(op((logmel.exp() - LOG_FLOOR).clamp_min(0.0)) + LOG_FLOOR)
        if self.dct is None:
            return new
        return raw + torch.einsum("mk,bmt->bkt", self.dct, new - logmel)

    def _raw_ops(self, raw: torch.Tensor) -> torch.Tensor:
        b, c = len(raw), self.cfg
        if c.gain_db > 0:
            gain = 10.0 ** ((self._rand(b) * 2 - 1) * c.gain_db / 10.0)  # power gain
            raw = self._power_op(raw, lambda p: p * gain.view(-1, 1, 1))
        if self.noise is not None:
            pick = self._randint(len(self.noise), b)
            snr = c.noise_snr_db + self._rand(b) * max(0.0, c.noise_snr_max_db - c.noise_snr_db)
            on = (self._rand(b) < c.noise_prob).float()
            noise_power = (self._to_logmel(self.noise[pick]).exp() - LOG_FLOOR).clamp_min(0.0)

            def mix(p: torch.Tensor) -> torch.Tensor:
                ratio = p.mean(dim=(1, 2)) / (noise_power.mean(dim=(1, 2)) + 1e-12) / 10.0 ** (snr / 10.0)
                return p + (on * ratio).view(-1, 1, 1) * noise_power

            raw = self._power_op(raw, mix)
        if self.shift:
            frames = raw.shape[2]
            shift = self._randint(2 * self.shift + 1, b) - self.shift  # (B,) frames, + is later
            src = torch.arange(frames, device=self.device).view(1, -1) - shift.view(-1, 1)  # (B, T)
            inside = (src >= 0) & (src < frames)
            moved = raw.gather(2, src.clamp(0, frames - 1).unsqueeze(1).expand_as(raw))
            raw = torch.where(inside.unsqueeze(1), moved, self.silence)
        return raw

    # --- normalised domain -----------------------------------------------------------------------

    def _masks(self, x: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        b, n_f, n_t = x.shape
        mask = torch.zeros(b, n_f, n_t, dtype=torch.bool, device=x.device)
        for count, width, size, axis in ((c.time_masks, c.time_mask_frames, n_t, 2),
                                         (c.freq_masks, c.freq_mask_bins, n_f, 1)):
            if count <= 0 or width <= 0:
                continue
            w = self._randint(min(width, size) + 1, b, count)  # (B, count) widths 0..width
            start = (self._rand(b, count) * (size - w + 1).float()).long()
            pos = torch.arange(size, device=x.device).view(1, 1, -1)
            hit = ((pos >= start.unsqueeze(2)) & (pos < (start + w).unsqueeze(2))).any(dim=1)  # (B, size)
            mask |= hit.unsqueeze(1) if axis == 2 else hit.unsqueeze(2)
        return x.masked_fill(mask, 0.0) if mask.any() else x
