"""Warm starts: a space's reference models and an earlier study's front are the first trials asked."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

from nas import service
from nas.cli.common import sessions
from nas.errors import ConfigError, NotFoundError
from nas.space import load_space, parse_space
from nas.study.config import StudyConfig
from nas.study.sampler import STARTING_POINT_ATTR, load_optuna_study

TINY = "tests/fixtures/tiny_space.yaml"


def _create(db_url: str, **fields):
    cfg = StudyConfig.parse({"dataset": "synthetic:64", "n_trials": 6, **fields})
    with sessions(db_url, create=True)() as s:
        service.create_study(s, db_url, cfg)
    return cfg, load_optuna_study(cfg, db_url)


def test_every_shipped_reference_is_a_point_of_its_space():
    kws = load_space("kws")
    names = [r.name for r in kws.references]
    assert names == ["ds-cnn-s", "small-cnn"]
    ds = kws.references[0].params
    assert ds["family"] == "dscnn" and ds["dscnn.channels"] == 64 and ds["frontend.n_mfcc"] == 10
    assert kws.misfit(ds) is None


@pytest.mark.parametrize("reference,message", [
    ({"family": "dscnn", "arch": {"channels": 99}}, "dscnn.channels: 99 is outside"),
    ({"family": "lstm"}, "family: 'lstm' is outside"),
    ({"arch": {"channels": 8}}, "needs 'family'"),
    ({"family": "dscnn", "frontend": {"n_mels": 16, "hop_ms": 10}}, "frontend.hop_ms: 10 is outside"),
    ({"family": "dscnn", "arch": {"hidden": 16}}, "dscnn.hidden: not a parameter"),
])
def test_a_reference_outside_the_space_names_file_and_key(reference, message):
    doc = load_space(TINY)
    raw = yaml.safe_load(Path(TINY).read_text()) | {"references": {"bad": reference}}
    with pytest.raises(ConfigError) as e:
        parse_space(raw, "my_space.yaml")
    assert "my_space.yaml: references.bad: " in str(e.value) and message in str(e.value)
    assert doc.references == ()


def test_the_references_are_the_first_trials_asked(db_url):
    space = load_space("demo")
    cfg, study = _create(db_url, name="refs", space="demo")
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert [t.user_attrs[STARTING_POINT_ATTR] for t in waiting] == ["small-dscnn", "small-cnn"]
    first = space.sample(study.ask())
    assert (first.arch.family, first.arch.as_kwargs()["channels"], first.frontend.kind) == ("dscnn", 24, "mfcc")
    assert first.bits == 8 and first.prune_ratio == 0.0
    second = space.sample(study.ask())
    assert second.arch.family == "cnn" and second.frontend.n_mels == 32
    _, plain = _create(db_url, name="no-refs", space="demo", references=False)
    assert not plain.get_trials(states=(optuna.trial.TrialState.WAITING,))


def test_a_warm_start_enqueues_the_earlier_front_that_fits(db_url):
    cfg, earlier = _create(db_url, name="earlier", space=TINY, references=False)
    space = load_space(TINY)
    for acc, lat in ((0.9, 30.0), (0.8, 10.0), (0.7, 40.0)):  # the third is dominated
        trial = earlier.ask()
        space.sample(trial)
        trial.set_constraint("ram", 0.0)  # feasible, as a worker records it
        earlier.tell(trial, [acc, lat, 20.0])
    _, later = _create(db_url, name="later", space=TINY, warm_start="earlier", n_trials=8)
    waiting = later.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert sorted(t.user_attrs[STARTING_POINT_ATTR] for t in waiting) == ["earlier#0", "earlier#1"]
    asked = later.ask()
    space.sample(asked)
    assert asked.params == earlier.trials[0].params
    with pytest.raises(NotFoundError, match="no study named 'missing'"):
        _create(db_url, name="orphan", space=TINY, warm_start="missing")
