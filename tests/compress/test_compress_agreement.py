"""TFLite-Micro vs LiteRT: quantization noise passes, a real difference is an error."""

import contextlib
import io

import numpy as np
import pytest

from nas.deploy import check_agreement, compare_outputs, export_tflite
from nas.deploy.agreement import INT_STEPS
from nas.deploy.interpreters import _dequantize
from nas.errors import ExportError


def _recipe_file(model, name: str) -> bytes:
    """A float file quantized with one of ai-edge-quantizer's non-static recipes (no calibration)."""
    from ai_edge_quantizer import quantizer, recipe

    from nas.deploy import float_tflite

    q = quantizer.Quantizer(float_tflite(model))
    q.load_quantization_recipe(getattr(recipe, name)())
    with contextlib.redirect_stdout(io.StringIO()):
        return bytes(q.quantize().quantized_model)


def test_int_outputs_agree_within_a_few_steps_and_not_beyond():
    rng = np.random.default_rng(0)
    scale = 0.05
    ref = np.round(rng.standard_normal((20, 8)) / scale) * scale
    near = ref.copy()
    near[3, 2] += INT_STEPS * scale  # the largest rounding difference still tolerated
    assert compare_outputs(ref, near, np.int8, scale).agree
    far = ref.copy()
    far[3, 2] += (INT_STEPS + 2) * scale
    report = compare_outputs(ref, far, np.int8, scale)
    assert not report.agree and report.max_steps == pytest.approx(INT_STEPS + 2)
    assert "disagree" in report.reason and "output steps" in report.reason


def test_exactly_the_tolerated_steps_agree_after_float32_dequantization():
    # as the runners dequantize: float32 products, so a 4-step difference can come out a rounding above 4 x scale
    scale, zero_point = 0.0207876, -12
    q = np.arange(-128, 120, dtype=np.int8).reshape(-1, 1)
    ref, shifted = _dequantize(q, scale, zero_point), _dequantize(q + INT_STEPS, scale, zero_point)
    assert float(np.abs(ref - shifted).max()) > INT_STEPS * scale  # the case that used to fail
    assert compare_outputs(ref, shifted, np.int8, scale).agree
    assert not compare_outputs(ref, _dequantize(q + INT_STEPS + 1, scale, zero_point), np.int8, scale).agree


def test_float_outputs_use_a_relative_tolerance():
    ref = np.array([[10.0, -3.0, 0.5]], np.float32)
    assert compare_outputs(ref, ref + 1e-4, np.float32, 0.0).agree
    assert not compare_outputs(ref, ref + 0.01, np.float32, 0.0).agree


def test_a_real_file_agrees_and_reports_its_figures(trained_dscnn, feats):
    tfl = export_tflite(trained_dscnn, 8, feats.split("train")[0])
    report = check_agreement(tfl, feats.split("valid")[0][:16])
    assert report.ran and report.agree and report.n_samples == 16
    assert report.output_dtype == "int8" and report.output_scale > 0
    assert report.max_steps <= INT_STEPS and report.tolerance >= INT_STEPS * report.output_scale


def test_a_model_tflm_refuses_is_reported_not_compared(trained_dscnn, feats):
    """A hybrid (float activations, int8 weights) file runs in LiteRT only: ran=False with TFLM's reason."""
    hybrid = _recipe_file(trained_dscnn, "dynamic_wi8_afp32")
    report = check_agreement(hybrid, feats.split("valid")[0][:4])
    assert not report.ran and report.reason


def test_a_file_tflm_computes_wrongly_is_an_error(trained_dscnn, feats):
    """Per-channel weight-only int8 loads in TFLM but is dequantized wrongly there: strict check raises."""
    tfl = _recipe_file(trained_dscnn, "weight_only_wi8_afp32")
    x = feats.split("valid")[0][:8]
    report = check_agreement(tfl, x, strict=False)
    assert report.ran and not report.agree
    with pytest.raises(ExportError, match="TFLite-Micro and LiteRT disagree"):
        check_agreement(tfl, x)
