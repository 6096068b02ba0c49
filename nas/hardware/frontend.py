"""Cost of the audio frontend on the device: window, real FFT, power spectrum, mel, log, DCT.

Why: on a microcontroller the frontend runs on the same core as the model and can take a large share of
the time budget, and its buffers add to RAM. Per frame: ``win_length`` window multiplies, a real FFT of
``n_fft`` points (~``n_fft/2 * log2(n_fft/2)`` complex butterflies), ``n_fft/2+1`` power bins, a sparse
mel filterbank (each bin feeds at most two triangles), ``n_mels`` logs, and for MFCC an
``n_mels x n_mfcc`` DCT. Cycle coefficients (``fe_*``) come from the profile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nas.candidate import FrontendConfig
from nas.hardware.profiles import HardwareProfile

#: Defaults (cycles per unit) when a profile has no ``fe_*`` entry: CMSIS-DSP float on an M4F (estimate).
_DEFAULTS = {"fe_window": 3.0, "fe_fft": 12.0, "fe_power": 6.0, "fe_mel": 4.0, "fe_log": 60.0, "fe_dct": 3.0}


@dataclass(frozen=True)
class FrontendCost:
    cycles: float
    ms: float
    ram_bytes: int
    flash_bytes: int
    details: dict[str, Any]


def frontend_cost(fe: FrontendConfig, profile: HardwareProfile) -> FrontendCost:
    """Cycles, RAM and flash of computing one clip's features on ``profile``."""
    n_fft, win, frames = fe.n_fft, fe.win_length, fe.n_frames
    bins = n_fft // 2 + 1
    butterflies = (n_fft // 2) * max(1, int(math.log2(max(n_fft // 2, 2))))
    c = {k: profile.coef(k, v) for k, v in _DEFAULTS.items()}
    per_frame = {
        "window": c["fe_window"] * win,
        "fft": c["fe_fft"] * butterflies,
        "power": c["fe_power"] * bins,
        "mel": c["fe_mel"] * 2 * bins,
        "log": c["fe_log"] * fe.n_mels,
        "dct": c["fe_dct"] * fe.n_mels * fe.n_mfcc if fe.kind == "mfcc" else 0.0,
    }
    frame_cycles = sum(per_frame.values())
    cycles = frame_cycles * frames
    ms = cycles / (profile.clock_mhz * 1e3)
    # RAM: int16 audio ring buffer (one window + one hop), float FFT in/out, power spectrum and mel bands.
    # The features are written straight into the model's input tensor (already in the arena).
    ram = 2 * (win + fe.hop_length) + 4 * 2 * n_fft + 4 * bins + 4 * fe.n_mels
    # Flash: window table, sparse mel weights (2 per bin), DCT matrix, FFT twiddles.
    flash = 4 * win + 4 * 2 * bins + (4 * fe.n_mels * fe.n_mfcc if fe.kind == "mfcc" else 0) + 4 * n_fft
    details = {"frontend_ms": ms, "frontend_cycles_per_frame": round(frame_cycles),
               "frontend_frames": frames, "frontend_ram_bytes": ram, "frontend_flash_bytes": flash,
               "frontend_breakdown_per_frame": {k: round(v) for k, v in per_frame.items()},
               "frontend": fe.describe()}
    return FrontendCost(cycles, ms, ram, flash, details)
