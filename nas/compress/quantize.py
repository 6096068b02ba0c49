"""Post-training quantization of a float ``.tflite`` with ai-edge-quantizer recipes.

One path for every bit-width (see ../shared/DESIGN.md): convert the float model with litert-torch,
then quantize the float flatbuffer, calibrating on training features.

    bits  recipe            tensors in the file                 runs on
    32    (none)            float32                             LiteRT, TFLM (reference kernels)
    8     static_wi8_ai8    int8 weights + activations + I/O    LiteRT, TFLM (CMSIS-NN)
"""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Iterable

import numpy as np

from nas.errors import ExportError

log = logging.getLogger(__name__)

BITS_OFFERED = (32, 8)


def _recipe(bits: int):
    from ai_edge_quantizer import recipe

    if bits == 8:
        return recipe.static_wi8_ai8()
    raise ExportError(f"bit-width {bits} is not offered: choose from {BITS_OFFERED}")


def quantize_tflite(float_model: bytes, bits: int, calibration: Iterable[np.ndarray]) -> bytes:
    """Quantize ``float_model`` to ``bits``; ``calibration`` yields single inputs shaped like the model input."""
    if bits == 32:
        return float_model
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer

    try:
        signature = Interpreter(model_content=float_model).get_signature_list()
        key = next(iter(signature))
        input_name = signature[key]["inputs"][0]
        q = quantizer.Quantizer(float_model)
        q.load_quantization_recipe(_recipe(bits))
        samples = [{input_name: np.asarray(x, dtype=np.float32)} for x in calibration]
        # The calibrator forces a progress bar onto stderr (its `disable` ignores TQDM_DISABLE).
        with contextlib.redirect_stderr(io.StringIO()):
            result = q.quantize(q.calibrate({key: samples}), enable_progress_report=False)
    except ExportError:
        raise
    except Exception as e:  # the quantizer raises many types; report them as one
        raise ExportError(f"ai-edge-quantizer failed for {bits}-bit: {type(e).__name__}: {e}") from e
    return bytes(result.quantized_model)
