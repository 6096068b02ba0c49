"""Every offered bit-width yields a real file: its tensor types match, LiteRT runs it, TFLite-Micro
runs it and agrees; int8 keeps the float accuracy within a few points."""

import numpy as np
import pytest
import torch

from nas.candidate import ArchConfig
from nas.compress import BIT_WIDTHS, BITS_OFFERED, bit_width, quantize_tflite
from nas.deploy import LiteRTRunner, TFLMRunner, check_agreement, evaluate_file, export_tflite, float_tflite
from nas.errors import ExportError
from nas.hardware import read_graph
from nas.models import build_model
from nas.train import accuracy, predict

WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _dtypes(tfl: bytes) -> tuple[str, str, set[str], dict[str, set[str]]]:
    g = read_graph(tfl)
    weights: dict[str, set[str]] = {}
    for op in g.ops:
        if op.op in WEIGHTED:
            weights.setdefault(op.op, set()).add(g.tensor(op.inputs[1]).dtype)
    acts = {g.tensor(o).dtype for op in g.ops for o in op.outputs}
    return g.tensor(g.inputs[0]).dtype, g.tensor(g.outputs[0]).dtype, acts, weights


@pytest.fixture(scope="module")
def files(trained_dscnn, feats):
    x_train = feats.split("train")[0]
    return {bits: export_tflite(trained_dscnn, bits, x_train) for bits in BITS_OFFERED}


def test_offered_bit_widths_are_the_documented_ones():
    assert set(BITS_OFFERED) == {32, 16, 8, 4} == set(BIT_WIDTHS)


@pytest.mark.parametrize("bits", BITS_OFFERED)
def test_file_types_match_the_bit_width(files, bits):
    spec = bit_width(bits)
    inp, out, acts, weights = _dtypes(files[bits])
    assert inp == out == spec.activation_dtype
    assert acts <= {spec.activation_dtype, "int32"}  # int32 only for shape tensors (RESHAPE etc.)
    assert set().union(*weights.values()) <= set(spec.weight_dtypes)
    if bits == 4:
        assert weights["CONV_2D"] == {"int4"} and weights["FULLY_CONNECTED"] == {"int4"}
        assert weights["DEPTHWISE_CONV_2D"] == {"int8"}
    if bits == 16:  # 16x8 with int64 biases: the variant both LiteRT and TFLM compute correctly
        g = read_graph(files[bits])
        biases = {g.tensor(op.inputs[2]).dtype for op in g.ops if op.op in WEIGHTED and len(op.inputs) > 2}
        assert biases == {"int64"}


@pytest.mark.parametrize("bits", BITS_OFFERED)
def test_file_runs_in_litert_and_tflm_agrees(files, feats, bits):
    x_val, y_val = feats.split("valid")
    runner = LiteRTRunner(files[bits])
    assert runner.input_dtype == np.dtype(bit_width(bits).activation_dtype)
    assert runner.predict(x_val[:4]).shape == (4, feats.n_classes)
    report = check_agreement(files[bits], x_val[:24])
    assert report.ran and report.agree, report.reason
    # Outputs within quantization noise may flip the class only where the top two logits are that close.
    lite = runner.predict(x_val[:24])
    micro = TFLMRunner(files[bits]).predict(x_val[:24])
    top2 = np.sort(lite, axis=1)[:, -2:]
    flipped = lite.argmax(1) != micro.argmax(1)
    assert np.all(top2[flipped, 1] - top2[flipped, 0] <= report.tolerance), report


def test_lower_bit_widths_give_smaller_files(files):
    assert len(files[4]) < len(files[8]) < len(files[32])


def test_quantized_accuracy_stays_close_to_float(trained_dscnn, files, feats):
    x_val, y_val = feats.split("valid")
    float_acc = accuracy(predict(trained_dscnn, x_val), y_val)
    assert float_acc >= 0.75  # the model learned something: the comparison means something
    acc = {bits: evaluate_file(files[bits], x_val, y_val)[0] for bits in BITS_OFFERED}
    assert acc[32] == pytest.approx(float_acc)
    assert acc[8] >= float_acc - 0.08, acc  # int8 through LiteRT: within a few points (64 clips)
    assert acc[16] >= float_acc - 0.08, acc
    assert acc[4] >= float_acc - 0.25, acc  # int4 weights cost more, but the file still classifies


def test_other_bit_widths_are_refused_with_the_choices():
    model = build_model(ArchConfig.of("mlp", hidden=8, n_layers=1), (16, 32), 8)
    with torch.no_grad():
        fb = float_tflite(model)
    with pytest.raises(ExportError, match=r"choose from \[32, 16, 8, 4\]"):
        quantize_tflite(fb, 2, [np.zeros((1, 16, 32), np.float32)])


@pytest.mark.parametrize("bits", [16, 4])
def test_mlp_family_runs_at_16_and_4_bits(bits, feats):
    """The frame MLP (1x1 convolutions + residual adds) is fully quantized at 16 and 4 bits too."""
    torch.manual_seed(0)
    model = build_model(ArchConfig.of("mlp", hidden=16, residual="basic"), feats.input_shape, feats.n_classes)
    tfl = export_tflite(model, bits, feats.split("train")[0])
    inp, _, _, weights = _dtypes(tfl)
    assert inp == bit_width(bits).activation_dtype
    if bits == 4:
        assert "int4" in weights["CONV_2D"]
    assert check_agreement(tfl, feats.split("valid")[0][:8]).agree
