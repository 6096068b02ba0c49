"""The index of a dataset (``DatasetSource.index()``: names, labels, splits, no audio decoded) and the checks
``nas study create`` runs on it: a bad dataset fails at creation with a one-line cause, not in every worker."""

from __future__ import annotations

import pytest
from data_helpers import tone, write_wav

from nas.cli import main
from nas.data import get_source
from nas.errors import DataError
from nas.service.datasets import check_dataset


def _same_counts(spec: str) -> None:
    source = get_source(spec)
    index, loaded = source.index(), source.load().summary
    assert index.class_counts == loaded.class_counts and index.split_counts == loaded.split_counts


def test_index_counts_match_the_load_of_good_data(fsdd_tiny, speech_commands_root, esc50_root, urbansound8k_root):
    for spec in (f"fsdd:{fsdd_tiny}", f"fsdd-speaker:{fsdd_tiny}:bob", f"speech-commands:{speech_commands_root}",
                 f"speech-commands-all:{speech_commands_root}", f"esc50:{esc50_root}:2",
                 f"urbansound8k:{urbansound8k_root}:3"):
        _same_counts(spec)


def test_index_decodes_nothing(fsdd_tiny):
    """A file that is not audio passes the index (only load() decodes) but an empty one does not."""
    (fsdd_tiny / "recordings" / "3_alice_0.wav").write_text("not audio")
    (fsdd_tiny / "recordings" / "4_alice_0.wav").write_bytes(b"")
    index = get_source(f"fsdd:{fsdd_tiny}").index()
    assert index.n_clips == 179 and [s.reason for s in index.skipped][-1] == "empty file (0 bytes)"
    assert get_source(f"fsdd:{fsdd_tiny}").load().summary.n_clips == 178


@pytest.fixture
def bad_specs(tmp_path, fsdd_tiny, speech_commands_root, folder_root):
    """Each bad dataset and the cause its one-line error must name."""
    words_only = tmp_path / "words_only"  # the 10 command words, none of the auxiliary ones
    for word in ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"):
        for s in range(3):
            write_wav(words_only / word / f"spk{s}_nohash_0.wav", tone(200, 0.1, 16000), 16000)
    write_wav(words_only / "_background_noise_" / "hum.wav", tone(50, 1.0, 16000), 16000)
    for p in (folder_root / "knock").iterdir():
        p.unlink()
    no_test = tmp_path / "no_test"
    for c in ("a", "b"):
        for i in range(4):
            write_wav(no_test / c / f"{i}.wav", tone(300, 0.1, 16000), 16000)
    (no_test / "validation_list.txt").write_text("a/0.wav\nb/0.wav\n")
    (no_test / "testing_list.txt").write_text("")
    return [
        (f"speech-commands:{words_only}", "has no auxiliary words"),
        (f"folder:{folder_root}", "'knock' have no examples in the training split"),
        (f"fsdd-speaker:{fsdd_tiny}:dave", "no speaker 'dave'; speakers: alice, bob, carol"),
        (f"folder:{tmp_path / 'nowhere'}", "does not exist"),
        (f"folder:{no_test}", "the test split(s) would be empty"),
    ]


def test_check_dataset_names_each_cause(bad_specs):
    for spec, cause in bad_specs:
        with pytest.raises(DataError, match=cause.replace("(", r"\(").replace(")", r"\)")):
            check_dataset(spec)


def test_study_create_refuses_each_bad_dataset_in_one_line(bad_specs, tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'nas.db'}"
    for i, (spec, cause) in enumerate(bad_specs):
        assert main(["study", "create", f"bad-{i}", "--dataset", spec, "--db", db]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and cause in err and "\n" not in err, err
    assert main(["study", "list", "--db", db]) == 0
    assert "bad-" not in capsys.readouterr().out  # nothing was registered
