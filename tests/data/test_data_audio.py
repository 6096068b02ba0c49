"""The shared audio reader: mixdown, resampling, 8-bit, and a named reason for every bad file."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from data_helpers import tone, write_empty, write_not_audio, write_truncated, write_wav

from nas.data.audio import ClipReader, UnreadableAudio, _read_wave_module, read_audio, wav_truncation


def test_stereo_is_mixed_down_and_resampled(tmp_path):
    stereo = tone(440, 0.5, 44100, channels=2)
    path = write_wav(tmp_path / "s.wav", stereo, 44100)
    clip = read_audio(path, 16000)
    assert clip.dtype == np.float32 and clip.ndim == 1
    assert abs(len(clip) - 8000) <= 1
    # mixdown of (x, 0.5x) is 0.75x: the 440 Hz peak keeps that amplitude after resampling
    assert np.max(np.abs(clip)) == pytest.approx(0.75 * np.max(np.abs(stereo[:, 0])), rel=0.05)


def test_8bit_pcm_reads_like_16bit(tmp_path):
    x = tone(300, 0.2, 8000)
    a = read_audio(write_wav(tmp_path / "u8.wav", x, 8000, "PCM_U8"), 8000)
    b = read_audio(write_wav(tmp_path / "s16.wav", x, 8000), 8000)
    assert np.max(np.abs(a - b)) < 2 / 128  # 8-bit quantisation step


def test_wave_module_fallback_matches_soundfile(tmp_path):
    path = write_wav(tmp_path / "u8.wav", tone(300, 0.1, 8000, channels=2), 8000, "PCM_U8")
    data, rate = _read_wave_module(path)
    ref, _ = sf.read(str(path), dtype="float32", always_2d=True)
    assert rate == 8000 and data.shape == ref.shape
    np.testing.assert_allclose(data, ref, atol=1e-6)


@pytest.mark.parametrize("make, reason", [
    (lambda p: write_empty(p), "empty file"),
    (lambda p: write_truncated(p), "truncated"),
    (lambda p: write_not_audio(p), "not a readable audio file"),
    (lambda p: write_wav(p, np.zeros(0, np.float32), 16000), "no audio samples"),
])
def test_bad_files_name_the_file_and_reason(tmp_path, make, reason):
    path = make(tmp_path / "bad.wav")
    with pytest.raises(UnreadableAudio, match=reason) as e:
        read_audio(path, 16000)
    assert e.value.skipped.path == str(path) and reason in e.value.skipped.reason


def test_truncation_check_leaves_good_files_alone(tmp_path):
    assert wav_truncation(write_wav(tmp_path / "ok.wav", tone(200, 0.1, 8000), 8000)) is None
    assert "declares" in wav_truncation(write_truncated(tmp_path / "cut.wav"))


def test_reader_collects_skips_and_warns_on_silence(tmp_path):
    reader = ClipReader(16000)
    silent = reader.read(write_wav(tmp_path / "silent.wav", np.zeros(800, np.float32), 16000))
    bad = reader.read(write_empty(tmp_path / "e.wav"))
    assert silent is not None and len(silent) == 800  # kept
    assert bad is None
    assert [s.path for s in reader.skipped] == [str(tmp_path / "e.wav")]
    assert len(reader.warnings) == 1 and "silent.wav" in reader.warnings[0]
