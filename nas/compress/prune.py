"""Structured pruning with torch-pruning: channels, filters and hidden units are removed for real.

``torch.nn.utils.prune`` only masks weights, which costs the same on a microcontroller; torch-pruning
rewrites the layers (and everything tied to them: batch-norm, depthwise groups, residual adds), so
the exported ``.tflite`` gets smaller and faster. The classifier is never pruned (its outputs are
the classes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch_pruning as tp
from torch import nn

from nas.models.layers import AudioClassifier, count_params

log = logging.getLogger(__name__)

CRITERIA = {"l1": 1, "l2": 2}


@dataclass(frozen=True)
class PruneResult:
    ratio: float
    criterion: str
    params_before: int
    params_after: int
    macs_before: int
    macs_after: int


def _classifier_layers(model: nn.Module) -> list[nn.Module]:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1:]


def prune_model(model: AudioClassifier, ratio: float, criterion: str = "l1") -> PruneResult:
    """Remove ``ratio`` of the prunable channels of ``model`` in place, by weight magnitude.

    Attention projections and recurrent cells are left alone (torch-pruning cannot keep their
    internal shapes consistent); their families are pruned elsewhere or not at all.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"prune criterion must be one of {sorted(CRITERIA)}, not '{criterion}'")
    example = model.example_input(1)
    macs_before, params_before = tp.utils.count_ops_and_params(model, example)
    if ratio <= 0:
        return PruneResult(0.0, criterion, int(params_before), int(params_before), int(macs_before), int(macs_before))
    ignored = _classifier_layers(model)
    ignored += [m for m in model.modules() if isinstance(m, (nn.MultiheadAttention, nn.LSTM, nn.GRU))]
    pruner = tp.pruner.MetaPruner(
        model, example, importance=tp.importance.MagnitudeImportance(p=CRITERIA[criterion]),
        pruning_ratio=ratio, ignored_layers=ignored, global_pruning=False,
    )
    pruner.step()
    with torch.no_grad():
        model(example)  # shapes still consistent
    macs_after, params_after = tp.utils.count_ops_and_params(model, example)
    log.debug("pruned %.0f%%: params %d -> %d", ratio * 100, params_before, params_after)
    return PruneResult(ratio, criterion, int(params_before), int(params_after), int(macs_before), int(macs_after))


__all__ = ["CRITERIA", "PruneResult", "count_params", "prune_model"]
