"""The compression section of a search space: new keys, conditional QAT, checks with clear messages."""

import optuna
import pytest

from nas.candidate import ArchConfig, Candidate, FrontendConfig
from nas.errors import ConfigError
from nas.space import parse_space

BASE = {"name": "c", "frontend": {"n_mels": 16}, "families": {"mlp": {"hidden": 16}}}


def _space(**compression):
    return parse_space({**BASE, "compression": compression}, "space.yaml")


def test_compression_keys_are_sampled_into_the_candidate():
    space = _space(prune_ratio=[0.0, 0.5], prune_criterion=["l1", "lamp", "taylor", "fpgm", "bn_scale"],
                   bits=[32, 16, 8, 4], qat=[False, True], teacher="teacher.tflite",
                   distill_weight={"float": [0.0, 0.9]}, distill_temperature={"float": [1.0, 8.0]})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen_bits, qat_bits = set(), set()
    for _ in range(40):
        trial = study.ask()
        c = space.sample(trial)
        seen_bits.add(c.bits)
        assert ("qat" in trial.params) == (c.bits == 8)  # QAT exists for int8 only: conditional
        if c.qat:
            qat_bits.add(c.bits)
        assert c.teacher == "teacher.tflite" and 0.0 <= c.distill_weight <= 0.9
        assert 1.0 <= c.distill_temperature <= 8.0
        study.tell(trial, 0.0)
    assert seen_bits == {32, 16, 8, 4} and qat_bits == {8}


def test_candidate_round_trips_the_new_fields():
    c = Candidate(FrontendConfig(), ArchConfig.of("mlp"), bits=8, qat=True, prune_criterion="fpgm",
                  distill_weight=0.3, distill_temperature=2.0, teacher="trial:4")
    assert Candidate.from_dict(c.to_dict()) == c
    old = {k: v for k, v in c.to_dict().items() if k not in ("qat", "distill_weight", "teacher")}
    assert Candidate.from_dict(old).qat is False  # rows written before these fields still load


@pytest.mark.parametrize("compression,message", [
    ({"bits": [8, 2]}, r"compression.bits: \[2\] not offered; choose from \[32, 16, 8, 4\]"),
    ({"prune_criterion": ["l1", "hessian"]}, "'hessian' is not one of"),
    ({"distill_weight": 0.5}, "distill_weight: needs compression.teacher"),
    ({"distill_weight": 1.5, "teacher": "t.pt"}, r"distill_weight: must lie in \[0, 1\]"),
    ({"distill_temperature": 0.0, "teacher": "t.pt"}, "distill_temperature: must be positive"),
    ({"qat": "yes"}, "expected bool"),
])
def test_bad_compression_sections_are_refused(compression, message):
    with pytest.raises(ConfigError, match=message):
        _space(**compression)
