"""The multi-objective early-stopping rule, and its wiring into a real trial."""

from __future__ import annotations

import pytest

from nas.candidate import ArchConfig, Candidate, FrontendConfig, TrainConfig
from nas.data import FeatureCache
from nas.errors import ConfigError
from nas.hardware import CostReport, load_profile
from nas.pipeline import TrialContext, run_trial
from nas.study.config import StudyConfig
from nas.study.early_stopping import EarlyStopper, EarlyStopRule, FrontSnapshot, training_curve
from nas.study.sampler import Heartbeat

# front on (latency_ms, ram_kb): cheap and 0.80 accurate, dear and 0.95 accurate
FRONT = FrontSnapshot(("latency_ms", "ram_kb"), ((0.80, (10.0, 20.0)), (0.95, (40.0, 60.0))))


def _report(latency: float, ram: float) -> CostReport:
    return CostReport("dev", True, latency, ram, 100.0, ram, 1000, 100)


def test_accuracy_to_beat_is_the_best_point_at_no_more_cost():
    assert FRONT.accuracy_to_beat((50.0, 70.0)) == 0.95  # both points are cheaper: the better one counts
    assert FRONT.accuracy_to_beat((20.0, 70.0)) == 0.80  # only the cheap point is cheaper on every axis
    assert FRONT.accuracy_to_beat((5.0, 70.0)) is None  # cheapest latency of all: joins the front at any accuracy
    assert FRONT.accuracy_to_beat((10.0, 20.0)) == 0.80  # equal cost: must beat its accuracy


def test_stopper_stops_only_what_cannot_reach_the_front():
    rule = EarlyStopRule(min_epochs=2, min_fraction=0.5, margin=0.15)
    s = EarlyStopper(rule, FRONT, [], epochs=4)
    assert not s(2, 0.1)  # no cost yet (no precheck): never stops
    s.set_cost(_report(50.0, 70.0))
    assert not s(1, 0.1)  # before min_epochs
    assert not s(2, 0.80)  # 0.80 + 0.15 >= 0.95: might still get there
    assert s(2, 0.79)  # 0.79 + 0.15 < 0.95
    assert s.decision == {"epoch": 2, "val_accuracy": 0.79, "margin": 0.15, "accuracy_to_beat": 0.95}
    late = EarlyStopper(rule, FRONT, [], epochs=10)
    late.set_cost(_report(50.0, 70.0))
    assert not late(4, 0.0) and late(5, 0.0)  # not before half of the planned epochs
    cheap = EarlyStopper(rule, FRONT, [], epochs=10)
    cheap.set_cost(_report(5.0, 70.0))
    assert not cheap(5, 0.0)  # nothing on the front is as cheap: never stopped


def test_margin_grows_with_the_gains_seen_in_finished_trials():
    rule = EarlyStopRule(margin=0.1, slack=0.02)
    curves = [((0.2, 0.5, 0.8), 0.85), ((0.6, 0.7), 0.72)]
    assert rule.margin_at(1, curves) == pytest.approx(0.65 + 0.02)  # 0.85 - 0.2
    assert rule.margin_at(2, curves) == pytest.approx(0.35 + 0.02)
    assert rule.margin_at(3, curves) == pytest.approx(0.1)  # gain 0.05 < fixed margin
    assert rule.margin_at(4, curves) == pytest.approx(0.1)  # no trial trained that long
    details = {"history": [{"epoch": 1, "val_accuracy": 0.5}, {"epoch": 1, "val_accuracy": 0.9,
                                                                "phase": "finetune"}]}
    assert training_curve(details) == (0.5,)


def test_study_config_and_heartbeat_errors_say_what_is_wrong():
    with pytest.raises(ConfigError, match=r"objectives: .*unknown objective\(s\) \['energy'\]"):
        StudyConfig.parse({"name": "x", "objectives": ["accuracy", "energy"]})
    with pytest.raises(ConfigError, match="sampler"):
        StudyConfig.parse({"name": "x", "sampler": "cmaes"})
    with pytest.raises(ConfigError, match="early_stopping_margin"):
        StudyConfig.parse({"name": "x", "early_stopping_margin": 2})
    with pytest.raises(ConfigError, match="grace > interval"):
        Heartbeat(5, 5)


@pytest.mark.slow
def test_a_trial_that_cannot_reach_the_front_stops_after_min_epochs(small_dataset, tmp_path):
    ctx = TrialContext(small_dataset, FeatureCache(tmp_path / "cache"), (load_profile("nucleo-l4r5zi"),))
    cand = Candidate(FrontendConfig(n_mels=16, hop_ms=32), ArchConfig.of("mlp", hidden=16, n_layers=1),
                     TrainConfig(epochs=4, finetune_epochs=1), prune_ratio=0.5, bits=8)
    # a (made-up) perfect point that costs nothing: no candidate can beat it
    stopper = EarlyStopper(EarlyStopRule(min_epochs=2), FrontSnapshot(("latency_ms",), ((1.01, (0.0,)),)), [],
                           epochs=4)
    result = run_trial(cand, ctx, tmp_path / "t", on_epoch=stopper, on_precheck=stopper.set_cost)
    assert result.stopped_early and result.status == "ok"
    assert [h["epoch"] for h in result.history] == [1, 2]  # stopped after epoch 2, no fine-tuning
    assert "prune" not in result.seconds
    assert stopper.decision is not None and stopper.decision["epoch"] == 2
