"""One real trial end to end on tiny settings: train, prune, quantize, export, evaluate the file, price."""

import json

import numpy as np
import pytest

from nas.candidate import ArchConfig, Candidate, FrontendConfig, TrainConfig
from nas.data import FeatureCache
from nas.deploy import LiteRTRunner, evaluate_file
from nas.hardware import load_profile
from nas.pipeline import TrialContext, run_trial

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ctx(small_dataset, tmp_path_factory):
    cache = FeatureCache(tmp_path_factory.mktemp("cache"))
    return TrialContext(small_dataset, cache, (load_profile("nucleo-l4r5zi"), load_profile("host")))


def test_one_trial_end_to_end(ctx, tmp_path):
    cand = Candidate(FrontendConfig(n_mels=16, hop_ms=32), ArchConfig.of("dscnn", channels=8, n_blocks=1),
                     TrainConfig(epochs=2, finetune_epochs=1), prune_ratio=0.5, bits=8)
    result = run_trial(cand, ctx, tmp_path)
    assert result.status == "ok", result.reason
    tfl = (tmp_path / "model.tflite").read_bytes()
    # the file is int8 end to end and loads in LiteRT
    runner = LiteRTRunner(tfl)
    assert runner.input_dtype == np.int8
    # the reported accuracy is the accuracy of that file on the validation split
    feats = ctx.cache.features(ctx.dataset, cand.frontend)
    acc, _ = evaluate_file(tfl, *feats.split("valid"))
    assert result.accuracy == pytest.approx(acc)
    assert 0.0 <= result.accuracy <= 1.0
    # TFLite-Micro ran the same file and agrees with LiteRT within int8 quantization noise
    assert result.tflm_max_abs_diff is not None and result.tflm_max_abs_diff < 0.5
    # priced on both profiles, each figure tagged with how it was obtained
    mcu, host = result.costs["nucleo-l4r5zi"], result.costs["host"]
    assert mcu.deployable and mcu.ram_kb > 0 and mcu.flash_kb * 1024 > len(tfl) and mcu.latency_ms > 0
    assert mcu.latency_source == "estimated" and host.latency_source == "measured"
    assert mcu.arena_kb > 0 and mcu.layers
    saved = json.loads((tmp_path / "trial.json").read_text())
    assert saved["candidate"]["arch"]["family"] == "dscnn"
    # the second trial with the same frontend reads cached features
    assert ctx.cache.hits >= 1


def test_precheck_rejects_a_budget_breaker_without_training(ctx):
    from dataclasses import replace

    tiny = replace(ctx.primary, sram_kb=1.0)
    cand = Candidate(FrontendConfig(n_mels=16, hop_ms=32), ArchConfig.of("mlp", hidden=16, n_layers=1),
                     TrainConfig(epochs=50), bits=32)
    result = run_trial(cand, replace(ctx, profiles=(tiny,)))
    assert result.status == "infeasible" and "RAM" in result.reason
    assert "train" not in result.seconds  # never trained


def test_a_trial_that_does_not_learn_is_recorded_with_the_reason(ctx, tmp_path):
    """Shuffled training labels: the loss falls, validation stays at chance; the trial stops after
    ``chance_epochs`` and its record says why (a result, not a failure)."""
    import dataclasses

    ds = ctx.dataset
    labels = ds.labels.copy()
    tr = ds.splits["train"]
    labels[tr] = np.random.default_rng(0).permutation(labels[tr])
    shuffled = dataclasses.replace(ctx, dataset=dataclasses.replace(ds, labels=labels))
    cand = Candidate(FrontendConfig(n_mels=16, hop_ms=32), ArchConfig.of("mlp", hidden=128, n_layers=2),
                     TrainConfig(epochs=12, learning_rate=0.01, batch_size=16, chance_epochs=4, chance_margin=0.15,
                                 class_weighted=False), prune_ratio=0.25, bits=8)
    result = run_trial(cand, shuffled, tmp_path)
    assert result.status == "ok" and result.stopped_early
    assert result.reason and result.reason.startswith("does not learn with these settings")
    assert result.extra["not_learning"] == result.reason
    assert len([h for h in result.history if "phase" not in h]) < 12
    assert not any(h.get("phase") == "finetune" for h in result.history)  # no pruning fine-tune wasted on it
    saved = json.loads((tmp_path / "trial.json").read_text())
    assert saved["reason"] == result.reason and saved["stopped_early"]


def test_the_exported_model_holds_the_best_validation_weights(ctx, tmp_path):
    cand = Candidate(FrontendConfig(n_mels=16, hop_ms=32), ArchConfig.of("mlp", hidden=32, n_layers=2),
                     TrainConfig(epochs=8, learning_rate=0.2, optimizer="adam", batch_size=16, chance_epochs=0),
                     bits=32)
    result = run_trial(cand, ctx, tmp_path)
    vals = [h["val_accuracy"] for h in result.history]
    assert result.extra["best_epoch"] == vals.index(max(vals)) + 1
    assert result.float_accuracy == pytest.approx(max(vals))  # float32 file of the best epoch's weights
    assert result.accuracy == pytest.approx(max(vals), abs=0.02)


def test_under_rungs_the_precheck_runs_only_near_a_budget(ctx):
    """Promoted from the first rung, a candidate far inside every budget is not exported untrained (the
    final pricing measures it); one whose proxy latency is within 3x of the deadline is, and the deadline
    it breaks stops it there."""
    from dataclasses import replace

    import torch

    from nas.hardware.proxy import proxy_cost
    from nas.pipeline import _untrained
    from nas.study.fidelity import RungGate, RungResult

    cand = Candidate(FrontendConfig(n_mels=16, hop_ms=32), ArchConfig.of("dscnn", channels=8, n_blocks=1),
                     TrainConfig(epochs=3, finetune_epochs=1), bits=8)

    def gate() -> RungGate:  # one rung after epoch 1, always promoted
        return RungGate((1,), ("latency_ms", "ram_kb"),
                        lambda rung, epoch, acc, costs: RungResult(rung, epoch, acc, costs, True, 0))

    far = run_trial(cand, ctx, rungs=gate())
    assert far.status == "ok" and "precheck" not in far.seconds
    shape = ctx.cache.features(ctx.dataset, cand.frontend).input_shape
    proxy = proxy_cost(_untrained(cand, shape, ctx.dataset.n_classes), torch.zeros(1, *shape), 8, ctx.primary,
                       cand.frontend)
    real = far.costs[ctx.primary.name].latency_ms
    near = run_trial(cand, replace(ctx, max_latency_ms=min(2 * proxy.latency_ms, 0.9 * real)), rungs=gate())
    assert near.status == "infeasible" and "deadline" in near.reason and near.seconds["precheck"] > 0
    assert len(near.history) == 1  # stopped right after the first rung
