"""Quantization-aware training: fake-quantized fine-tuning, then a full-integer int8 file that LiteRT
and TFLite-Micro run and that classifies as the QAT model did."""

import copy

import numpy as np
import torch

from nas.candidate import TrainConfig
from nas.compress import QATModel, prepare_qat
from nas.deploy import LiteRTRunner, check_agreement, evaluate_file, export_qat_tflite
from nas.train import accuracy, predict, train


def _batch_dependent(model, x) -> bool:
    with torch.no_grad():
        return not torch.allclose(model(x[:3]), model(x)[:3], atol=1e-5)


def test_qat_fine_tunes_and_exports_a_full_int8_file(trained_dscnn, feats):
    x_val, y_val = feats.split("valid")
    float_acc = accuracy(predict(trained_dscnn, x_val), y_val)
    qmodel = prepare_qat(copy.deepcopy(trained_dscnn))
    assert isinstance(qmodel, QATModel) and qmodel.input_shape == trained_dscnn.input_shape
    # train(): batch-norm uses batch statistics; eval(): running ones, observers frozen
    x = torch.from_numpy(x_val[:6])
    assert _batch_dependent(qmodel.train(), x)
    assert not _batch_dependent(qmodel.eval(), x)

    result = train(qmodel, feats, TrainConfig(epochs=2, learning_rate=2e-3, batch_size=16), seed=1)
    assert result.epochs_run == 2 and not qmodel.training  # train() leaves it in eval mode
    qat_acc = accuracy(predict(qmodel, x_val), y_val)

    tfl = export_qat_tflite(qmodel)
    runner = LiteRTRunner(tfl)
    assert runner.input_dtype == np.int8 and np.dtype(runner.out["dtype"]) == np.int8
    file_acc, _ = evaluate_file(tfl, x_val, y_val)
    assert abs(file_acc - qat_acc) <= 0.05  # the file computes what fake quantization trained
    assert file_acc >= float_acc - 0.08
    report = check_agreement(tfl, x_val[:16])
    assert report.ran and report.agree, report.reason


def test_pattern_graphs_are_traced_once_and_give_the_same_file(trained_dscnn, feats, monkeypatch):
    """The second preparation and conversion of a model trace no pattern graph (torch.export, ~0.25 s each)
    and convert to the same bytes as the first, which traced them all."""
    from torchao.quantization.pt2e import utils as pt2e_utils

    from nas.compress import qat

    monkeypatch.setattr(qat, "_PATTERN_GRAPHS", {})
    traced = []
    original = pt2e_utils._get_aten_graph_module_for_pattern

    def counting(*args, **kwargs):
        traced.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(pt2e_utils, "_get_aten_graph_module_for_pattern", counting)

    def export_once() -> bytes:
        qmodel = prepare_qat(copy.deepcopy(trained_dscnn))
        torch.manual_seed(0)  # dropout draws in train mode
        qmodel.train()(torch.from_numpy(feats.split("train")[0][:16]))  # observers see data
        return export_qat_tflite(qmodel.eval())

    cold = export_once()
    n_cold = len(traced)
    assert n_cold >= 10 and len(qat._PATTERN_GRAPHS) == n_cold
    assert export_once() == cold
    assert len(traced) == n_cold  # every pattern came from the cache
