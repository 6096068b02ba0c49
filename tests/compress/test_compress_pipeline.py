"""Trials with the new compression options, end to end through run_trial (slow: real exports)."""

import json

import numpy as np
import pytest

from nas.candidate import ArchConfig, Candidate, FrontendConfig, TrainConfig
from nas.compress import bit_width
from nas.data import FeatureCache, SyntheticSource
from nas.deploy import LiteRTRunner, evaluate_file
from nas.hardware import load_profile
from nas.pipeline import TrialContext, run_trial

pytestmark = pytest.mark.slow
FRONTEND = FrontendConfig(n_mels=16, hop_ms=32)
TRAIN = TrainConfig(epochs=6, learning_rate=1e-2, batch_size=16, finetune_epochs=1)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    ds = SyntheticSource(n_clips=240, seed=2).load()
    return TrialContext(ds, FeatureCache(tmp_path_factory.mktemp("cache")), (load_profile("nucleo-l4r5zi"),),
                        precheck=False)


def test_int4_pruned_trial_then_qat_student_of_that_trial(ctx, tmp_path):
    arch = ArchConfig.of("dscnn", channels=12, n_blocks=1)
    first = run_trial(Candidate(FRONTEND, arch, TRAIN, prune_ratio=0.5, prune_criterion="taylor", bits=4),
                      ctx, tmp_path / "trial-0000")
    assert first.status == "ok", first.reason
    tfl = (tmp_path / "trial-0000" / "model.tflite").read_bytes()
    assert LiteRTRunner(tfl).input_dtype == np.dtype(bit_width(4).activation_dtype)
    # the accuracy is the file's; the float accuracy and the drop are stored beside it
    feats = ctx.cache.features(ctx.dataset, FRONTEND)
    assert first.accuracy == pytest.approx(evaluate_file(tfl, *feats.split("valid"))[0])
    assert first.extra["accuracy_drop"] == pytest.approx(first.float_accuracy - first.accuracy)
    assert first.extra["agreement"]["ran"] and first.extra["agreement"]["agree"]
    assert first.tflm_max_abs_diff == first.extra["agreement"]["max_abs_diff"]

    student = Candidate(FRONTEND, ArchConfig.of("mlp", hidden=16, n_layers=1), TRAIN, bits=8, qat=True,
                        teacher="trial:0", distill_weight=0.5, distill_temperature=2.0)
    second = run_trial(student, ctx, tmp_path / "trial-0001")
    assert second.status == "ok", second.reason
    assert second.extra["qat"] is True and second.extra["teacher"] == "trial:0"
    assert any(h.get("phase") == "qat" for h in second.history)
    saved = json.loads((tmp_path / "trial-0001" / "trial.json").read_text())
    assert saved["candidate"]["qat"] is True and "accuracy_drop" in saved["extra"]
    assert LiteRTRunner((tmp_path / "trial-0001" / "model.tflite").read_bytes()).input_dtype == np.int8
