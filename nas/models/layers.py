"""Small building blocks shared by the model families."""

from __future__ import annotations

import torch
from torch import nn


class QuickGELU(nn.Module):
    """GELU approximated as ``x * sigmoid(1.702 x)``: MUL + LOGISTIC in the graph, which
    TFLite-Micro runs (it has no GELU kernel, and the converter folds the tanh form back into GELU)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "prelu": nn.PReLU, "relu6": nn.ReLU6,
               "quick_gelu": QuickGELU}


def activation(name: str, channels: int | None = None) -> nn.Module:
    """A fresh activation module (a module, not a functional call: PT2E needs it after residual adds).

    ``channels``: the channel count at dim 1, for a per-channel PReLU. torch-pruning then prunes its
    slopes with the channels; a single shared slope breaks its flatten index mapping before a
    ``time`` head (classifier inputs mis-counted). Leave it None where features are not at dim 1.
    """
    if name == "prelu" and channels:
        return nn.PReLU(channels)
    try:
        return ACTIVATIONS[name]()
    except KeyError as e:
        raise ValueError(f"unknown activation '{name}': choose from {sorted(ACTIVATIONS)}") from e


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class GlobalAvgPool2d(nn.Module):
    """(B, C, H, W) -> (B, C). Lowered to TFLite MEAN."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class TimePool(nn.Module):
    """(B, C, F, T) -> (B, C * F): average over frames only, keeping where in frequency a pattern is
    (a siren and an engine differ mostly in pitch). Lowered to MEAN + RESHAPE."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=3).flatten(1)


class AudioClassifier(nn.Module):
    """Wraps a family's body: every model takes (B, features, frames) and returns logits (B, classes).

    One input layout for all families keeps evaluation and export family-agnostic.
    """

    def __init__(self, body: nn.Module, family: str, input_shape: tuple[int, int], n_classes: int):
        super().__init__()
        self.body = body
        self.family = family
        self.input_shape = input_shape
        self.n_classes = n_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def example_input(self, batch: int = 1) -> torch.Tensor:
        return torch.zeros(batch, *self.input_shape)
