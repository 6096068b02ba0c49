"""Compression stage: structured pruning (torch-pruning) and post-training quantization recipes."""

from nas.compress.prune import PruneResult, prune_model
from nas.compress.quantize import BITS_OFFERED, quantize_tflite

__all__ = ["BITS_OFFERED", "PruneResult", "prune_model", "quantize_tflite"]
