"""PyTorch -> ``.tflite`` with litert-torch, then quantization to the candidate's bit-width.

litert-torch is imported lazily (it takes ~3 s) and once per process; workers are processes, so a
conversion never runs beside training in another thread (that crashed the process in tests).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from nas.compress.qat import QATModel, cached_pattern_graphs, convert_qat
from nas.compress.quantize import quantize_tflite
from nas.errors import ExportError
from nas.logs import import_quietly
from nas.models.layers import AudioClassifier

log = logging.getLogger(__name__)


def float_tflite(model: AudioClassifier) -> bytes:
    """Convert ``model`` (eval mode, batch 1) to a float32 ``.tflite`` flatbuffer."""
    litert_torch = import_quietly("litert_torch")

    model = model.eval()
    try:
        edge = litert_torch.convert(model, (model.example_input(1),))
        return bytes(edge.model_content())
    except Exception as e:  # conversion errors come from deep inside torch.export / MLIR
        raise ExportError(f"litert-torch could not convert {model.family}: {type(e).__name__}: {e}") from e


def export_tflite(model: AudioClassifier, bits: int, calibration_x: np.ndarray | None = None,
                  n_calibration: int = 64) -> bytes:
    """Export ``model`` at ``bits`` (see :data:`nas.compress.BITS_OFFERED`) to ``.tflite`` bytes.

    Args:
        calibration_x: training features (N, F, T) for activation ranges; random data if None
            (only for the untrained feasibility export, whose accuracy is never reported).
    """
    with torch.no_grad():
        fb = float_tflite(model)
    if bits == 32:
        return fb
    if calibration_x is None:
        calibration_x = np.random.default_rng(0).standard_normal((n_calibration, *model.input_shape))
    step = max(1, len(calibration_x) // n_calibration)
    samples = [calibration_x[i:i + 1].astype(np.float32) for i in range(0, len(calibration_x), step)][:n_calibration]
    return quantize_tflite(fb, bits, samples)


def export_qat_tflite(model: QATModel) -> bytes:
    """Convert a quantization-aware-trained model to a full-integer int8 ``.tflite`` (int8 I/O).

    Raises:
        ExportError: conversion failed (with litert-torch's message).
    """
    litert_torch = import_quietly("litert_torch")
    from litert_torch.quantize.quant_config import QuantConfig

    try:
        with cached_pattern_graphs():  # litert-torch's quantized lowering matches pattern graphs too
            graph = convert_qat(model)
            edge = litert_torch.convert(graph, (model.example_input(1),),
                                        quant_config=QuantConfig(pt2e_quantizer=model.quantizer))
        return bytes(edge.model_content())
    except Exception as e:  # conversion errors come from deep inside torch.export / MLIR
        raise ExportError(f"litert-torch could not convert the QAT {model.family}: {type(e).__name__}: {e}") from e
