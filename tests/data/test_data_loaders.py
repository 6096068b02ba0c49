"""Every layout loads from a tiny fixture in its exact layout, and bad input is named, not dropped."""

from __future__ import annotations

import numpy as np
import pytest
from data_helpers import tone, write_empty, write_wav

from nas.data import get_source
from nas.data.speech_commands import hash_split
from nas.errors import ConfigError, DataError


def check_dataset(ds, n_classes):
    """Invariants every loader promises."""
    assert ds.n_classes == n_classes and len(ds.clips) == len(ds.labels) == len(ds.sources)
    assert all(c.dtype == np.float32 and c.ndim == 1 and len(c) > 0 for c in ds.clips)
    all_idx = np.concatenate([ds.splits[s] for s in ("train", "valid", "test")])
    assert sorted(all_idx.tolist()) == list(range(len(ds.clips)))  # a partition
    assert set(np.unique(ds.labels[ds.splits["train"]])) == set(range(n_classes))
    assert len(ds.fingerprint) == 16
    assert ds.summary.n_clips == len(ds.clips) and sum(ds.summary.class_counts.values()) == len(ds.clips)
    assert ds.summary.lines()[0].startswith(f"dataset {ds.name}")
    assert ds.class_weights().shape == (n_classes,)


# --- FSDD ------------------------------------------------------------------------------------------

def test_fsdd_official_split(fsdd_tiny):
    ds = get_source(f"fsdd:{fsdd_tiny}").load()
    check_dataset(ds, 10)
    assert ds.sample_rate == 8000 and len(ds.clips) == 180
    takes = np.array([int(s.rsplit("_", 1)[1].split(".")[0]) for s in ds.sources])
    assert (takes[ds.splits["test"]] < 5).all() and len(ds.splits["test"]) == 150
    assert (takes[ds.splits["train"]] >= 5).all() and (takes[ds.splits["valid"]] >= 5).all()
    assert [s.path.endswith("hello.wav") for s in ds.summary.skipped] == [True]
    assert "{digit}_{speaker}_{take}" in ds.summary.skipped[0].reason


def test_fsdd_speaker_split_holds_out_speakers(fsdd_tiny):
    ds = get_source(f"fsdd-speaker:{fsdd_tiny}:bob").load()
    check_dataset(ds, 10)
    speaker = np.array([s.split("/")[-1].split("_")[1] for s in ds.sources])
    assert set(speaker[ds.splits["test"]]) == {"bob"} and set(speaker[ds.splits["valid"]]) == {"carol"}
    assert set(speaker[ds.splits["train"]]) == {"alice"}
    # same files in the same order: the official and speaker tasks share cached features
    assert ds.fingerprint == get_source(f"fsdd:{fsdd_tiny}").load().fingerprint
    with pytest.raises(DataError, match="no speaker 'zoe'.*alice, bob, carol"):
        get_source(f"fsdd-speaker:{fsdd_tiny}:zoe").load()


def test_fsdd_class_without_examples_is_named(fsdd_tiny):
    for p in (fsdd_tiny / "recordings").glob("3_*.wav"):
        p.unlink()
    with pytest.raises(DataError, match="'3'.*no examples in the training split"):
        get_source(f"fsdd:{fsdd_tiny}").load()


def test_fingerprint_follows_content(fsdd_tiny):
    before = get_source(f"fsdd:{fsdd_tiny}").load().fingerprint
    write_wav(fsdd_tiny / "recordings" / "0_alice_0.wav", tone(999, 0.25, 8000), 8000)
    assert get_source(f"fsdd:{fsdd_tiny}").load().fingerprint != before


# --- Speech Commands -------------------------------------------------------------------------------

def test_speech_commands_12_class_task(speech_commands_root):
    ds = get_source(f"speech-commands:{speech_commands_root}").load()
    check_dataset(ds, 12)
    assert ds.class_names[:2] == ("_silence_", "_unknown_") and "yes" in ds.class_names
    names = np.array(ds.class_names)[ds.labels]
    src = np.array(ds.sources)
    assert all("spk1" in s for s in src[ds.splits["valid"]] if "nohash" in s)
    assert all("spk2" in s for s in src[ds.splits["test"]] if "nohash" in s)
    # silence: ceil(10 % of the word clips) per split, cut from the noise files
    assert (names[ds.splits["train"]] == "_silence_").sum() == 2  # 20 train word clips
    assert all(s.startswith("_background_noise_/") for s in src[names == "_silence_"])
    assert all(len(c) == 16000 for c in np.array(ds.clips, dtype=object)[names == "_silence_"])
    # unknown: sampled from 'bed' and 'cat', ~10 % of the word clips, and said so in the summary
    assert set(s.split("/")[0] for s in src[names == "_unknown_"]) <= {"bed", "cat"}
    assert any("_unknown_ uses" in n for n in ds.summary.notes)


def test_speech_commands_all_words(speech_commands_root):
    ds = get_source(f"speech-commands-all:{speech_commands_root}").load()
    check_dataset(ds, 12)
    assert "_silence_" not in ds.class_names and "bed" in ds.class_names and len(ds.clips) == 48


def test_speech_commands_missing_split_lists_warn_and_use_hash_rule(speech_commands_root):
    (speech_commands_root / "validation_list.txt").unlink()
    for word in ("yes", "bed"):  # speakers the README's hash rule puts in validation (5) and test (30)
        for spk in (5, 30):
            write_wav(speech_commands_root / word / f"spk{spk}_nohash_0.wav", tone(400, 0.1, 16000), 16000)
    ds = get_source(f"speech-commands-all:{speech_commands_root}").load()
    assert any("validation_list.txt" in w and "hash" in w for w in ds.summary.warnings)
    rule = np.array([hash_split(s) for s in ds.sources])
    assert set(np.flatnonzero(rule == "test")) == set(ds.splits["test"])
    assert set(np.flatnonzero(rule == "valid")) == set(ds.splits["valid"])
    assert len(ds.splits["test"]) == len(ds.splits["valid"]) == 2


def test_speech_commands_without_noise_cannot_make_silence(speech_commands_root):
    for p in (speech_commands_root / "_background_noise_").iterdir():
        p.unlink()
    with pytest.raises(DataError, match="_background_noise_.*_silence_"):
        get_source(f"speech-commands:{speech_commands_root}").load()


def test_speech_commands_missing_word_is_named(speech_commands_root):
    for p in (speech_commands_root / "stop").iterdir():
        p.unlink()
    with pytest.raises(DataError, match="'stop'"):
        get_source(f"speech-commands:{speech_commands_root}").load()


# --- ESC-50 and UrbanSound8K -----------------------------------------------------------------------

def test_esc50_folds(esc50_root):
    ds = get_source(f"esc50:{esc50_root}:2").load()
    check_dataset(ds, 3)
    assert ds.class_names == ("dog", "rain", "clock_tick") and ds.sample_rate == 16000
    fold = np.array([int(s.split("/")[-1].split("-")[0]) for s in ds.sources])
    assert set(fold[ds.splits["test"]]) == {2} and set(fold[ds.splits["valid"]]) == {3}
    assert set(fold[ds.splits["train"]]) == {1, 4, 5}
    assert all(abs(len(c) - 3200) <= 1 for c in ds.clips)  # 0.2 s stereo 44.1 kHz -> mono 16 kHz


def test_esc10_subset(esc50_root):
    ds = get_source(f"esc10:{esc50_root}").load()
    assert ds.class_names == ("dog", "rain") and len(ds.clips) == 10


def test_esc50_missing_metadata_and_files(esc50_root):
    (esc50_root / "audio" / "1-100-A-0.wav").unlink()
    ds = get_source(f"esc50:{esc50_root}").load()
    assert [s.reason for s in ds.summary.skipped] == ["file does not exist"]
    (esc50_root / "meta" / "esc50.csv").unlink()
    with pytest.raises(DataError, match="esc50.csv' is missing"):
        get_source(f"esc50:{esc50_root}").load()


def test_esc50_bad_csv_column_is_named(esc50_root):
    (esc50_root / "meta" / "esc50.csv").write_text("file,fold\nx.wav,1\n")
    with pytest.raises(DataError, match="missing column.*filename"):
        get_source(f"esc50:{esc50_root}").load()


def test_urbansound8k_mixed_formats(urbansound8k_root):
    ds = get_source(f"urbansound8k:{urbansound8k_root}:10").load()
    check_dataset(ds, 3)
    assert ds.class_names == ("air_conditioner", "car_horn", "siren")
    assert all(abs(len(c) - 2400) <= 2 for c in ds.clips)  # 0.15 s at any rate -> 16 kHz
    fold = np.array([int(s.split("/")[1][4:]) for s in ds.sources])
    assert set(fold[ds.splits["test"]]) == {10} and set(fold[ds.splits["valid"]]) == {1}
    assert not ds.summary.skipped


def test_urbansound8k_truncated_clip_is_skipped_with_reason(urbansound8k_root):
    path = urbansound8k_root / "audio" / "fold3" / "1003-0-0-0.wav"
    path.write_bytes(path.read_bytes()[:100])
    ds = get_source(f"urbansound8k:{urbansound8k_root}").load()
    assert [(s.path, "truncated" in s.reason) for s in ds.summary.skipped] == [(str(path), True)]


# --- folder ----------------------------------------------------------------------------------------

def test_folder_handles_every_kind_of_input(folder_root):
    ds = get_source(f"folder:{folder_root}").load()
    check_dataset(ds, 3)
    reasons = {s.path.split("/")[-1]: s.reason for s in ds.summary.skipped}
    assert set(reasons) == {"empty.wav", "truncated.wav", "notes.wav", "README.txt"}
    assert "empty" in reasons["empty.wav"] and "truncated" in reasons["truncated.wav"]
    assert "not a readable audio file" in reasons["notes.wav"]
    assert any("silent.wav" in w for w in ds.summary.warnings)
    used = {s.split("/")[-1] for s in ds.sources}
    assert {"stereo_44k.wav", "u8_8k.wav", "tiny.flac", "silent.wav"} <= used
    text = "\n".join(ds.summary.lines())
    assert "truncated.wav" in text and "skipped 4" in text


def test_folder_split_lists(folder_root):
    (folder_root / "testing_list.txt").write_text("beep/0.wav\nknock/0.wav\nvoice/0.wav\nvoice/gone.wav\n")
    ds = get_source(f"folder:{folder_root}").load()
    src = np.array(ds.sources)
    assert sorted(src[ds.splits["test"]]) == ["beep/0.wav", "knock/0.wav", "voice/0.wav"]
    assert len(ds.splits["valid"]) > 0  # carved from train
    assert any("testing_list.txt" in w and "do not exist" in w for w in ds.summary.warnings)


def test_folder_empty_class_is_an_error_naming_it(folder_root):
    (folder_root / "whistle").mkdir()
    with pytest.raises(DataError, match="'whistle'.*no examples"):
        get_source(f"folder:{folder_root}").load()


def test_folder_of_only_bad_files(tmp_path):
    write_empty(tmp_path / "a" / "x.wav")
    with pytest.raises(DataError, match="no readable audio clips.*x.wav: empty file"):
        get_source(f"folder:{tmp_path}").load()


# --- the factory -----------------------------------------------------------------------------------

def test_unknown_dataset_lists_the_available_ones():
    with pytest.raises(ConfigError, match="unknown dataset 'timit:x'.*fsdd:PATH.*speech-commands.*folder"):
        get_source("timit:x")


def test_missing_path_is_named(tmp_path):
    with pytest.raises(DataError, match="nowhere"):
        get_source(f"fsdd:{tmp_path / 'nowhere'}")
    with pytest.raises(ConfigError, match="needs a path"):
        get_source("folder")


def test_bad_fold_is_a_config_error(esc50_root):
    with pytest.raises(ConfigError, match="fold 7 is not in 1..5"):
        get_source(f"esc50:{esc50_root}:7")
    with pytest.raises(ConfigError, match="integer"):
        get_source(f"esc50:{esc50_root}:x")


def test_synthetic_stays_the_default_source():
    ds = get_source("synthetic:40").load()
    check_dataset(ds, 8)
