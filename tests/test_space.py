"""Search-space loading, sampling and the schema check's messages."""

import math

import optuna
import pytest
import yaml

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
