"""Reading audio files the way every loader needs them: mono float32 at one sample rate.

Real collections hold stereo files, odd sample rates, 8-bit PCM, empty or truncated files and
files that are not audio at all. :func:`read_audio` turns the first three into ordinary clips
(mixdown, resample) and the rest into :class:`UnreadableAudio` naming the file and the reason;
:class:`ClipReader` collects those reasons so loaders can skip a file without dropping it silently.
Audio is read with soundfile (torchaudio's own I/O needs FFmpeg), with the stdlib ``wave`` module
as a fallback for PCM WAV files libsndfile refuses.
"""

from __future__ import annotations

import functools
import logging
import struct
import wave
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.transforms as T

from nas.data.base import SkippedFile
from nas.errors import DataError

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".aif", ".aiff", ".au", ".mp3", ".opus"})
SILENCE_PEAK = 1e-4  # below this peak amplitude (-80 dBFS) a clip is reported as silent


class UnreadableAudio(DataError):
    """A file that cannot be used as a clip; ``skipped`` says which and why."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.skipped = SkippedFile(str(path), reason)


def wav_truncation(path: Path) -> str | None:
    """Why a RIFF/WAVE file is truncated, or None. libsndfile silently reads what is there."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                available = size - pos - 8
                if chunk_size not in (0, 0xFFFFFFFF) and chunk_size > available:
                    return f"truncated: data chunk declares {chunk_size} bytes, file holds {available}"
                return None
            pos += 8 + chunk_size + (chunk_size & 1)
    return "truncated: no data chunk"


def _read_wave_module(path: Path) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 via the stdlib: 8/16/32-bit integer PCM only."""
    with wave.open(str(path), "rb") as w:
        width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 1:  # 8-bit WAV is unsigned
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width in (2, 4):
        dtype = np.int16 if width == 2 else np.int32
        data = np.frombuffer(raw, dtype).astype(np.float32) / float(np.iinfo(dtype).max + 1)
    else:
        raise ValueError(f"{8 * width}-bit PCM is not supported by the wave fallback")
    return data.reshape(-1, channels), rate


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 and the file's sample rate, or UnreadableAudio."""
    if not path.is_file():
        raise UnreadableAudio(path, "file does not exist")
    if path.stat().st_size == 0:
        raise UnreadableAudio(path, "empty file (0 bytes)")
    truncated = wav_truncation(path)
    if truncated:
        raise UnreadableAudio(path, truncated)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError) as e:
        try:
            data, rate = _read_wave_module(path)
        except (wave.Error, EOFError, ValueError, OSError):
            raise UnreadableAudio(path, f"not a readable audio file ({e})") from e
    return data, int(rate)


@functools.lru_cache(maxsize=16)
def _resampler(orig: int, new: int) -> T.Resample:
    return T.Resample(orig, new)  # the sinc kernel depends only on the rate pair: build it once


@torch.no_grad()
def resample(wave_: np.ndarray, orig: int, new: int) -> np.ndarray:
    """``wave_`` (..., samples) at ``orig`` Hz -> (..., samples * new / orig) at ``new`` Hz."""
    if orig == new:
        return wave_
    return _resampler(orig, new)(torch.from_numpy(wave_)).numpy()


def read_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples of ``path`` at ``sample_rate``.

    Args:
        path: any format libsndfile reads (WAV of any bit depth, FLAC, OGG, AIFF...).
        sample_rate: target rate in Hz; other rates are resampled with torchaudio.

    Raises:
        UnreadableAudio: empty, truncated, non-audio, zero-length or non-finite files.
    """
    path = Path(path)
    data, rate = _decode(path)
    if data.shape[0] == 0:
        raise UnreadableAudio(path, "no audio samples (header only)")
    if not np.isfinite(data).all():
        raise UnreadableAudio(path, "contains NaN or infinite samples")
    mono = np.ascontiguousarray(data.mean(axis=1), dtype=np.float32)  # (frames,) mixdown
    return resample(mono, rate, sample_rate)


class ClipReader:
    """Reads clips for one dataset, collecting skipped files and warnings instead of raising."""

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate
        self.skipped: list[SkippedFile] = []
        self.warnings: list[str] = []

    def read(self, path: str | Path) -> np.ndarray | None:
        """The clip, or None after recording why ``path`` was skipped."""
        try:
            clip = read_audio(path, self.sample_rate)
        except UnreadableAudio as e:
            log.warning("skipping %s", e)
            self.skipped.append(e.skipped)
            return None
        if float(np.max(np.abs(clip))) < SILENCE_PEAK:
            self.warnings.append(f"{path}: silent clip (peak below -80 dBFS), kept")
        return clip
