"""Structured pruning with torch-pruning: channels, filters and hidden units are removed for real.

``torch.nn.utils.prune`` only masks weights, which costs the same on a microcontroller; torch-pruning
rewrites the layers (and everything tied to them: batch-norm, depthwise groups, residual adds), so
the exported ``.tflite`` gets smaller and faster. The classifier is never pruned (its outputs are
the classes).

Criteria (``prune_criterion`` in a search space), all torch-pruning importances:

    l1, l2     weight magnitude (p = 1 or 2) of each channel group
    lamp       layer-adaptive magnitude (LAMP scores: magnitude normalised within the layer)
    fpgm       filter pruning via geometric median (removes the most redundant filters)
    bn_scale   batch-norm scale |gamma| (network slimming)
    taylor     first-order Taylor |w * dL/dw| on a batch of training data (needs ``data``)

Attention heads are not pruned: torch-pruning 1.6 prunes heads only for separate q/k/v linear
layers and fails on ``nn.MultiheadAttention``'s fused input projection, so attention modules and
recurrent cells are left whole (the layers around them are still pruned).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch_pruning as tp
from torch import nn

from nas.errors import ConfigError
from nas.models.layers import AudioClassifier, count_params

log = logging.getLogger(__name__)

CRITERIA = ("l1", "l2", "lamp", "fpgm", "bn_scale", "taylor")


@dataclass(frozen=True)
class PruneResult:
    ratio: float
    criterion: str
    params_before: int
    params_after: int
    macs_before: int
    macs_after: int


def _importance(criterion: str) -> tp.importance.Importance:
    """The one place a criterion name becomes a torch-pruning importance."""
    if criterion == "l1":
        return tp.importance.MagnitudeImportance(p=1)
    if criterion == "l2":
        return tp.importance.MagnitudeImportance(p=2)
    if criterion == "lamp":
        return tp.importance.LAMPImportance(p=2)
    if criterion == "fpgm":
        return tp.importance.FPGMImportance(p=2)
    if criterion == "bn_scale":
        return tp.importance.BNScaleImportance()
    if criterion == "taylor":
        return tp.importance.TaylorImportance()
    raise ConfigError(f"prune criterion must be one of {list(CRITERIA)}, not '{criterion}'")


def _classifier_layers(model: nn.Module) -> list[nn.Module]:
    linears: list[nn.Module] = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1:]


def _taylor_gradients(model: nn.Module, data: tuple[np.ndarray, np.ndarray] | None, n: int = 64) -> None:
    """Fill ``.grad`` with the loss gradient on up to ``n`` training samples (for ``taylor``)."""
    if data is None:
        raise ConfigError("prune criterion 'taylor' needs training data (prune_model(..., data=(x, y)))")
    x, y = data
    model.eval()  # batch-norm statistics stay those of training
    model.zero_grad(set_to_none=True)
    xb, yb = torch.from_numpy(x[:n]), torch.from_numpy(y[:n]).long()  # (n, F, T), (n,)
    nn.functional.cross_entropy(model(xb), yb).backward()


def prune_model(model: AudioClassifier, ratio: float, criterion: str = "l1", *,
                data: tuple[np.ndarray, np.ndarray] | None = None) -> PruneResult:
    """Remove ``ratio`` of the prunable channels of ``model`` in place, ranked by ``criterion``.

    Args:
        ratio: fraction of channels / hidden units removed from every prunable layer, in [0, 1).
        criterion: one of :data:`CRITERIA`.
        data: training (features, labels); only ``taylor`` uses it.

    Returns:
        Parameter and MAC counts before and after (torch-pruning's own counter).

    Raises:
        ConfigError: unknown criterion, or ``taylor`` without data.
    """
    importance = _importance(criterion)
    if not 0.0 <= ratio < 1.0:
        raise ConfigError(f"prune ratio must lie in [0, 1), got {ratio}")
    example = model.example_input(1)
    macs_before, params_before = tp.utils.count_ops_and_params(model, example)
    if ratio <= 0:
        return PruneResult(0.0, criterion, int(params_before), int(params_before), int(macs_before), int(macs_before))
    ignored = _classifier_layers(model)
    ignored += [m for m in model.modules() if isinstance(m, (nn.MultiheadAttention, nn.LSTM, nn.GRU))]
    pruner = tp.pruner.MetaPruner(
        model, example, importance=importance, pruning_ratio=ratio, ignored_layers=ignored,
        global_pruning=False,
    )
    if criterion == "taylor":
        _taylor_gradients(model, data)
    pruner.step()
    model.zero_grad(set_to_none=True)
    with torch.no_grad():
        model(example)  # shapes still consistent
    macs_after, params_after = tp.utils.count_ops_and_params(model, example)
    log.debug("pruned %.0f%% by %s: params %d -> %d", ratio * 100, criterion, params_before, params_after)
    return PruneResult(ratio, criterion, int(params_before), int(params_after), int(macs_before), int(macs_after))


__all__ = ["CRITERIA", "PruneResult", "count_params", "prune_model"]
