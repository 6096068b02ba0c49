"""Search-space loading, sampling and the schema check's messages."""

import math

import optuna
import pytest

from nas.candidate import Candidate
from nas.errors import ConfigError, NotFoundError
from nas.space import list_spaces, load_space


def _write(tmp_path, text: str):
    p = tmp_path / "space.yaml"
    p.write_text(text)
    return p


def test_shipped_spaces_load_and_sample_jointly():
    spaces = list_spaces()
    assert "demo" in [s.name for s in spaces]
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(0))
    demo = load_space("demo")
    seen = set()
    for _ in range(30):
        c = demo.sample(study.ask())
        assert isinstance(c, Candidate)
        assert Candidate.from_dict(c.to_dict()) == c
        seen.add((c.arch.family, c.bits, c.prune_ratio))
    assert len({f for f, _, _ in seen}) == 3 and len({b for _, b, _ in seen}) == 2


def test_space_size_counts_discrete_candidates(tiny_space_path):
    s = load_space(tiny_space_path)
    # dscnn channels 2 + mlp 1 = 3 architectures, x prune 2 x bits 2
    assert s.size() == 12
    assert math.isinf(load_space("demo").size())


BAD = [
    ("families: {cnn: {channels: [8, 16]}}\nbogus: 1\n", "unknown top-level key(s) ['bogus']"),
    ("families: {resnet9000: {}}\n", "families.resnet9000: unknown model family"),
    ("families: {cnn: {channelz: 8}}\n", "families.cnn: unknown key(s) ['channelz']"),
    ("families: {cnn: {channels: {int: [32, 8]}}}\n", "families.cnn.channels: low 32 is greater than high 8"),
    ("families: {cnn: {channels: []}}\n", "families.cnn.channels: 'choices' must be a non-empty list"),
    ("families: {cnn: {channels: [8, 'wide']}}\n", "families.cnn.channels: expected int, got 'wide'"),
    ("families: {cnn: {}}\ncompression: {bits: [8, 3]}\n", "compression.bits: [3] not offered"),
    ("families: {cnn: {}}\nfrontend: {kind: [logmel, wavelet]}\n", "frontend.kind: 'wavelet' is not one of"),
    ("families: {cnn: {}}\ntraining: {learning_rate: {float: [0, 0.1], log: true}}\n",
     "training.learning_rate: a log range needs low > 0"),
    ("families: {}\n", "families: at least one model family is required"),
    ("families: {cnn: {channels: {int: [8, 16], float: [1, 2]}}}\n", "exactly one of"),
    # model families of issue 4: enums, sizes, cross-field checks, types
    ("families: {rescnn: {residual: [basic, dense]}}\n", "families.rescnn.residual: 'dense' is not one of"),
    ("families: {lstm: {hidden: [0, 16]}}\n", "families.lstm.hidden: must be >= 1"),
    ("families: {gru: {frame_stride: {int: [0, 4]}}}\n", "families.gru.frame_stride: must be >= 1"),
    ("families: {mlp: {context: -1}}\n", "families.mlp.context: must be >= 0"),
    ("families: {transformer: {dropout: 1.0}}\n", "families.transformer.dropout: must lie in [0, 1)"),
    ("families: {rescnn: {channel_growth: 0.0}}\n", "families.rescnn.channel_growth: must be positive"),
    ("families: {transformer: {d_model: [16, 24], n_heads: [1, 5]}}\n",
     "families.transformer.n_heads: 5 heads do not divide d_model 16"),
    ("families: {transformer: {d_model: {int: [16, 24]}, n_heads: 4}}\n",
     "families.transformer.n_heads: 4 heads do not divide d_model 17"),
    ("families: {lstm: {hidden: {float: [16, 64]}}}\n", "families.lstm.hidden: expected int values, got a float range"),
    ("families: {transformer: {activation_fn: [relu, swish]}}\n", "activation_fn: 'swish' is not one of"),
    ("families: {gru: {}}\nfrontend: {kind: [logmel, mfcc], n_mels: [16, 32], n_mfcc: 20}\n",
     "frontend.n_mfcc: 20 exceeds the smallest n_mels 16"),
    ("families: {lstm: {hidden: 'wide'}}\n", "families.lstm.hidden: expected int, got 'wide'"),
]


@pytest.mark.parametrize("text,message", BAD)
def test_bad_space_files_name_the_file_key_and_expectation(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_space(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_malformed_yaml_names_the_line(tmp_path):
    path = _write(tmp_path, "families:\n  cnn: {channels: [8, 16\n")
    with pytest.raises(ConfigError, match=r"line \d+ column \d+: malformed YAML"):
        load_space(path)


def test_unknown_space_name_lists_the_available_ones():
    with pytest.raises(NotFoundError, match="available: .*demo"):
        load_space("no-such-space")


def test_mfcc_count_is_only_checked_when_mfcc_can_be_picked(tmp_path):
    path = _write(tmp_path, "families: {cnn: {}}\nfrontend: {kind: logmel, n_mels: 16, n_mfcc: 20}\n")
    assert load_space(path).frontend["n_mels"].values == (16,)


SHIPPED = {"demo", "kws", "sound_events", "frame_mlp", "recurrent", "transformer", "mixed"}


def test_shipped_spaces_cover_every_family_and_sample_each():
    from nas.models import FAMILIES

    spaces = {s.name: s for s in list_spaces()}
    assert SHIPPED <= set(spaces)
    assert set(spaces["mixed"].families) == set(FAMILIES)
    assert set(spaces["kws"].families) == {"dscnn", "cnn"}
    assert set(spaces["sound_events"].families) == {"cnn", "rescnn"}
    assert set(spaces["recurrent"].families) == {"lstm", "gru"}
    for sp in spaces.values():
        assert sp.training["epochs"].values[0] <= 10, f"{sp.name}: keep epochs laptop-sized"
        sampler = optuna.samplers.RandomSampler(1)
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
        families = {sp.sample(study.ask()).arch.family for _ in range(40)}
        assert families == set(sp.families), (sp.name, families)


def test_size_text_counts_discrete_part_and_names_continuous_ranges():
    text = load_space("mixed").size_text()
    assert "discrete combinations x continuous training.learning_rate" in text
    lines = "\n".join(load_space("recurrent").lines())
    assert "lstm (96 architectures)" in lines and "size: " in lines


def test_spaces_cli_lists_and_shows(capsys):
    from nas.cli import main

    assert main(["spaces"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SHIPPED)
    assert "families: cnn, dscnn, rescnn, mlp, lstm, gru, transformer" in out
    assert main(["spaces", "show", "transformer"]) == 0
    out = capsys.readouterr().out
    assert "transformer (" in out and "n_heads={1, 2, 4}" in out and "size: " in out
