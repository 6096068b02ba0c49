"""Post-training quantization of a float ``.tflite`` with ai-edge-quantizer recipes.

One path for every bit-width (see ../shared/DESIGN.md): convert the float model with litert-torch,
then quantize the float flatbuffer, calibrating on training features. Offered are exactly the
bit-widths whose files LiteRT and TFLite-Micro both run and agree on (checked by
``tests/compress/test_compress_bits.py`` for every model family):

    bits  recipe                      tensors in the file                          runs on
    32    (none)                      float32                                      LiteRT, TFLM (reference)
    16    static_wi8_ai16             int16 activations + I/O, int8 weights,       LiteRT, TFLM
                                      int64 biases
    8     static_wi8_ai8              int8 activations + I/O, int8 weights,        LiteRT, TFLM (CMSIS-NN)
                                      int32 biases
    4     static_wi8_ai8 + int4       int8 activations + I/O; int4 weights on      LiteRT, TFLM
          overrides                   CONV_2D (per channel) and FULLY_CONNECTED
                                      (per tensor); DEPTHWISE_CONV_2D stays int8

Left out, because the file does not run on TFLM or runs there wrong: dynamic-range ("hybrid") and
weight-only int8/int4 and float16 weights (float activations with integer weights: TFLM refuses
them or dequantizes wrongly), per-channel int4 on FULLY_CONNECTED (TFLM refuses it), int4 on
DEPTHWISE_CONV_2D (the quantizer keeps it int8), and PT2E's int16 path (int32 biases: LiteRT
refuses, TFLM computes wrong outputs; ai-edge-quantizer's 16x8 writes int64 biases, which both run).
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from nas.errors import ExportError
from nas.logs import without_native_noise

log = logging.getLogger(__name__)

BITS_OFFERED = (32, 16, 8, 4)


@dataclass(frozen=True)
class BitWidth:
    """What a bit-width means in the file: the dtypes a checker can assert on."""

    bits: int
    activation_dtype: str  # of the model's input, output and inner activations
    weight_dtypes: tuple[str, ...]  # of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED weights
    description: str


BIT_WIDTHS: dict[int, BitWidth] = {
    32: BitWidth(32, "float32", ("float32",), "float32 weights and activations"),
    16: BitWidth(16, "int16", ("int8",), "int16 activations, int8 weights, int64 biases (16x8)"),
    8: BitWidth(8, "int8", ("int8",), "full-integer int8 weights and activations"),
    4: BitWidth(4, "int8", ("int4", "int8"),
                "int4 weights on CONV_2D (per channel) and FULLY_CONNECTED (per tensor), int8 elsewhere"),
}


def bit_width(bits: int) -> BitWidth:
    """The :class:`BitWidth` of ``bits``; ExportError naming the offered ones otherwise."""
    try:
        return BIT_WIDTHS[int(bits)]
    except (KeyError, ValueError) as e:
        raise ExportError(f"bit-width {bits!r} is not offered: choose from {list(BITS_OFFERED)}") from e


def _configure(q, bits: int) -> None:
    """Load the recipe of ``bits`` into an ``ai_edge_quantizer.Quantizer``."""
    from ai_edge_quantizer import qtyping, recipe

    if bits == 8:
        q.load_quantization_recipe(recipe.static_wi8_ai8())
    elif bits == 16:
        q.load_quantization_recipe(recipe.static_wi8_ai16())
    elif bits == 4:
        q.load_quantization_recipe(recipe.static_wi8_ai8())
        op = qtyping.TFLOperationName
        # TFLM runs int4 CONV_2D per channel, but int4 FULLY_CONNECTED only per tensor.
        q.add_static_config(".*", op.CONV_2D, 8, 4, qtyping.QuantGranularity.CHANNELWISE)
        q.add_static_config(".*", op.FULLY_CONNECTED, 8, 4, qtyping.QuantGranularity.TENSORWISE)
    else:
        bit_width(bits)  # raises with the offered list
        raise ExportError(f"bit-width {bits} has no post-training recipe")


def quantize_tflite(float_model: bytes, bits: int, calibration: Iterable[np.ndarray]) -> bytes:
    """Quantize ``float_model`` to ``bits``; ``calibration`` yields single inputs shaped like the model input.

    Raises:
        ExportError: ``bits`` is not offered, or ai-edge-quantizer failed (with its message).
    """
    bit_width(bits)
    if bits == 32:
        return float_model
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer

    try:
        signature = Interpreter(model_content=float_model).get_signature_list()
        key = next(iter(signature))
        input_name = signature[key]["inputs"][0]
        q = quantizer.Quantizer(float_model)
        _configure(q, bits)
        samples = [{input_name: np.asarray(x, dtype=np.float32)} for x in calibration]
        # The calibrator forces a progress bar onto stderr (its `disable` ignores TQDM_DISABLE),
        # and quantize() prints a size summary to stdout; its interpreters print the delegate notice.
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            result = without_native_noise(
                lambda: q.quantize(q.calibrate({key: samples}), enable_progress_report=False))
    except ExportError:
        raise
    except Exception as e:  # the quantizer raises many types; report them as one
        raise ExportError(f"ai-edge-quantizer failed for {bits}-bit: {type(e).__name__}: {e}") from e
    return bytes(result.quantized_model)
