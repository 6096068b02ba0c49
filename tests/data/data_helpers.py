"""Helpers that write audio files for the data-stage tests (tones, bad files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def tone(freq: float, seconds: float, sr: int, amp: float = 0.3, channels: int = 1) -> np.ndarray:
    """A sine (frames,) or (frames, channels) with a little seeded noise, float32."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(int(freq * 1000 + seconds * 10 + sr))
    x = (amp * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    return np.stack([x, 0.5 * x], axis=1) if channels == 2 else x


def write_wav(path: Path, data: np.ndarray, sr: int, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, sr, subtype=subtype)
    return path


def write_truncated(path: Path, sr: int = 16000) -> Path:
    write_wav(path, tone(440, 0.5, sr), sr)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_not_audio(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("this is a text file with a .wav name\n")
    return path


def write_empty(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path
