"""Does TFLite-Micro compute what LiteRT computes for the same file?

The accuracy reported for a trial is measured in LiteRT; the file ships to TFLite-Micro. Both run
the same quantized arithmetic, but their kernels round differently (e.g. LiteRT's XNNPACK vs TFLM's
reference kernels), so integer outputs may differ by an output quantization step or two. More than
that means TFLM computes something else (this happened with PT2E's int16 models, whose int32 biases
TFLM reads wrongly), and then the accuracy measured in LiteRT says nothing about the device: an
error, not a figure.

Tolerance, from the output tensor's quantization:
    int8 / int16 outputs:  max(``INT_STEPS`` output scale steps, ``INT_RTOL`` x largest |logit|)
    float outputs:         ``FLOAT_RTOL`` x max(1, largest |logit|)

Observed on every family and bit-width: 1 output step, sometimes 2 after pruning (a rounding
difference in an inner layer is amplified by the layers after it); ~1e-6 for float files.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from nas.deploy.interpreters import LiteRTRunner, TFLMRunner
from nas.errors import ExportError, NotDeployableError

log = logging.getLogger(__name__)

INT_STEPS = 4
INT_RTOL = 0.01
FLOAT_RTOL = 1e-4


@dataclass(frozen=True)
class AgreementReport:
    """TFLM vs LiteRT on the same inputs.

    Attributes:
        ran: False when TFLM refused the model (``reason`` says why; the cost report marks it
            not deployable); the other figures are then zero.
        agree: outputs within ``tolerance`` everywhere (True when TFLM did not run: no mismatch).
        max_abs_diff: largest |TFLM - LiteRT| over all samples and outputs (dequantized logits).
        max_steps: the same in output quantization steps (0 for float outputs).
        tolerance: the allowed difference, in dequantized units.
        argmax_agreement: fraction of samples whose predicted class is the same.
    """

    ran: bool
    agree: bool
    n_samples: int
    output_dtype: str
    output_scale: float
    max_abs_diff: float
    max_steps: float
    tolerance: float
    argmax_agreement: float
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tolerance_for(dtype: np.dtype | str, scale: float, reference: np.ndarray) -> float:
    """The largest TFLM-LiteRT difference that is still quantization noise for this output tensor."""
    peak = float(np.abs(reference).max()) if reference.size else 0.0
    if np.issubdtype(np.dtype(dtype), np.integer) and scale > 0:
        return max(INT_STEPS * scale, INT_RTOL * peak)
    return FLOAT_RTOL * max(1.0, peak)


def compare_outputs(litert: np.ndarray, tflm: np.ndarray, dtype: np.dtype | str, scale: float) -> AgreementReport:
    """Compare two (N, classes) dequantized output arrays of the same file."""
    if litert.shape != tflm.shape:
        return AgreementReport(True, False, len(litert), str(np.dtype(dtype)), scale, float("inf"), float("inf"),
                               0.0, 0.0, f"output shapes differ: LiteRT {litert.shape}, TFLM {tflm.shape}")
    diff = float(np.abs(litert - tflm).max()) if litert.size else 0.0
    tol = tolerance_for(dtype, scale, litert)
    steps = diff / scale if scale > 0 else 0.0
    same = float((litert.argmax(axis=1) == tflm.argmax(axis=1)).mean()) if len(litert) else 1.0
    # integer outputs differ by whole steps; dequantized in float32, exactly INT_STEPS can land a rounding above
    agree = diff <= tol * (1 + 1e-5)
    reason = None if agree else (
        f"TFLite-Micro and LiteRT disagree on the same file: max |diff| {diff:.4g} "
        f"({steps:.1f} output steps of {scale:.3g}) > tolerance {tol:.3g}; predicted classes agree on "
        f"{same:.0%} of {len(litert)} samples")
    return AgreementReport(True, agree, len(litert), str(np.dtype(dtype)), float(scale), diff, steps, tol, same, reason)


def check_agreement(model: bytes, x: np.ndarray, *, strict: bool = True) -> AgreementReport:
    """Run ``model`` on ``x`` (N, F, T) in LiteRT and TFLite-Micro and compare the outputs.

    Args:
        strict: raise on a mismatch instead of returning a report with ``agree=False``.

    Raises:
        ExportError: (``strict``) the outputs differ beyond quantization noise; the message gives
            the size of the difference in output steps.
    """
    litert = LiteRTRunner(model)
    ref = litert.predict(x)
    out = litert.out
    dtype, scale = np.dtype(out["dtype"]), float(out["quantization"][0])
    try:
        got = TFLMRunner(model).predict(x)
    except NotDeployableError as e:
        return AgreementReport(False, True, 0, str(dtype), scale, 0.0, 0.0, 0.0, 0.0, str(e))
    report = compare_outputs(ref, got, dtype, scale)
    log.debug("TFLM vs LiteRT: max diff %.3g (%.1f steps), tolerance %.3g", report.max_abs_diff,
              report.max_steps, report.tolerance)
    if strict and not report.agree:
        raise ExportError(report.reason or "TFLite-Micro and LiteRT disagree")
    return report
