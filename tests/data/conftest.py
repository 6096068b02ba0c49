"""Fixtures for the data stage: tiny datasets in each layout, generated in a temporary folder.

The layouts we cannot ship (Speech Commands, ESC-50, UrbanSound8K) are rebuilt here from a few
generated tones in their exact folder structure, so every loader runs in CI. The real FSDD is
found via ``NAS_SHARED_DIR`` (default ``<repo>/../shared``) and tests needing it skip without it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from data_helpers import tone, write_empty, write_not_audio, write_truncated, write_wav

REPO = Path(__file__).resolve().parents[2]


def pytest_addoption(parser):
    # pyproject's addopts pass --timeout; accept it when pytest-timeout is not installed.
    if importlib.util.find_spec("pytest_timeout") is None:
        try:
            parser.addoption("--timeout", action="store", default=None, help="ignored (no pytest-timeout)")
        except ValueError:  # another conftest already added it
            pass


@pytest.fixture(scope="session")
def shared_fsdd() -> Path:
    shared = Path(os.environ.get("NAS_SHARED_DIR", REPO.parent / "shared"))
    root = shared / "data" / "fsdd"
    if not (root / "recordings").is_dir():
        pytest.skip(f"FSDD not found at {root} (set NAS_SHARED_DIR to the folder holding data/fsdd)")
    return root


@pytest.fixture
def fsdd_tiny(tmp_path: Path) -> Path:
    """3 speakers x 10 digits x 6 takes at 8 kHz (takes 0-4 test), plus one badly named file."""
    rec = tmp_path / "fsdd" / "recordings"
    for s, speaker in enumerate(("alice", "bob", "carol")):
        for digit in range(10):
            for take in range(6):
                clip = tone(200 + 90 * digit + 7 * s, 0.2, 8000)
                write_wav(rec / f"{digit}_{speaker}_{take}.wav", clip, 8000)
    write_wav(rec / "hello.wav", tone(300, 0.1, 8000), 8000)
    return tmp_path / "fsdd"


SC_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "bed", "cat")


@pytest.fixture
def speech_commands_root(tmp_path: Path) -> Path:
    """12 word folders (10 commands + 2 others) x 4 speakers, noise, split lists."""
    root = tmp_path / "speech_commands"
    for w, word in enumerate(SC_WORDS):
        for s in range(4):
            write_wav(root / word / f"spk{s}_nohash_0.wav", tone(150 + 40 * w, 0.25, 16000), 16000)
    write_wav(root / "_background_noise_" / "white_noise.wav",
              np.random.default_rng(0).uniform(-0.5, 0.5, 32000).astype(np.float32), 16000)
    write_wav(root / "_background_noise_" / "hum.wav", tone(50, 1.5, 16000), 16000)
    (root / "validation_list.txt").write_text("".join(f"{w}/spk1_nohash_0.wav\n" for w in SC_WORDS))
    (root / "testing_list.txt").write_text("".join(f"{w}/spk2_nohash_0.wav\n" for w in SC_WORDS))
    return root


def _write_csv(path: Path, header: str, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "\n".join(rows) + "\n")


@pytest.fixture
def esc50_root(tmp_path: Path) -> Path:
    """3 classes x 5 folds, 44.1 kHz stereo clips; two classes flagged ESC-10."""
    root = tmp_path / "ESC-50-master"
    rows = []
    for target, (category, esc10) in enumerate((("dog", True), ("rain", True), ("clock_tick", False))):
        for fold in range(1, 6):
            name = f"{fold}-{100 + target}-A-{target}.wav"
            write_wav(root / "audio" / name, tone(300 + 200 * target, 0.2, 44100, channels=2), 44100)
            rows.append(f"{name},{fold},{target},{category},{esc10},{100 + target},A")
    _write_csv(root / "meta" / "esc50.csv", "filename,fold,target,category,esc10,src_file,take", rows)
    return root


@pytest.fixture
def urbansound8k_root(tmp_path: Path) -> Path:
    """3 classes x 10 folds, mixed rates, 8-bit and stereo clips, as UrbanSound8K ships them."""
    root = tmp_path / "UrbanSound8K"
    formats = [(44100, "PCM_16", 1), (48000, "PCM_24", 2), (22050, "PCM_U8", 1), (11025, "PCM_16", 2)]
    rows = []
    for class_id, name in enumerate(("air_conditioner", "car_horn", "siren")):
        for fold in range(1, 11):
            sr, subtype, ch = formats[(class_id + fold) % len(formats)]
            fname = f"{1000 + fold}-{class_id}-0-0.wav"
            clip = tone(250 + 300 * class_id, 0.15, sr, channels=ch)
            write_wav(root / "audio" / f"fold{fold}" / fname, clip, sr, subtype)
            rows.append(f"{fname},{1000 + fold},0.0,0.15,1,{fold},{class_id},{name}")
    _write_csv(root / "metadata" / "UrbanSound8K.csv",
               "slice_file_name,fsID,start,end,salience,fold,classID,class", rows)
    return root


@pytest.fixture
def folder_root(tmp_path: Path) -> Path:
    """Class folders with every kind of good and bad input a user's recordings hold."""
    root = tmp_path / "my_sounds"
    for c, cls in enumerate(("beep", "knock", "voice")):
        for i in range(6):
            write_wav(root / cls / f"{i}.wav", tone(300 + 250 * c + 10 * i, 0.2, 16000), 16000)
    write_wav(root / "beep" / "stereo_44k.wav", tone(330, 0.3, 44100, channels=2), 44100)
    write_wav(root / "knock" / "u8_8k.wav", tone(600, 0.3, 8000), 8000, "PCM_U8")
    write_wav(root / "knock" / "tiny.flac", tone(600, 0.004, 16000), 16000)  # shorter than a window
    write_wav(root / "voice" / "silent.wav", np.zeros(1600, np.float32), 16000)
    write_empty(root / "voice" / "empty.wav")
    write_truncated(root / "voice" / "truncated.wav")
    write_not_audio(root / "beep" / "notes.wav")
    (root / "beep" / "README.txt").write_text("recorded in the lab\n")
    return root
