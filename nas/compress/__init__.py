"""Compression stage: structured pruning (torch-pruning), post-training quantization recipes and
quantization-aware training (PT2E)."""

from nas.compress.prune import CRITERIA, PruneResult, prune_model
from nas.compress.qat import QAT_BITS, QATModel, prepare_qat
from nas.compress.quantize import BIT_WIDTHS, BITS_OFFERED, BitWidth, bit_width, quantize_tflite

__all__ = ["BITS_OFFERED", "BIT_WIDTHS", "BitWidth", "CRITERIA", "PruneResult", "QATModel", "QAT_BITS",
           "bit_width", "prepare_qat", "prune_model", "quantize_tflite"]
