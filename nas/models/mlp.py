"""Feed-forward network over stacked frames with a context window (the phoneme-style MLP).

Each frame t sees frames t-k..t+k (a time convolution of width 2k+1 is exactly a linear layer over
the stacked context), then per-frame hidden layers (1x1 convolutions = the same linear layer applied
to every frame), optional residual blocks, and an average over frames before the classifier.
"""

from __future__ import annotations

import torch
from torch import nn

from nas.models.layers import activation


class _BasicBlock(nn.Module):
    """Two per-frame linear layers with batch-norm and an identity skip."""

    def __init__(self, width: int, act: str):
        super().__init__()
        self.f = nn.Sequential(nn.Conv1d(width, width, 1), nn.BatchNorm1d(width), activation(act, width),
                               nn.Conv1d(width, width, 1), nn.BatchNorm1d(width))
        self.act = activation(act, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.f(x))


class _BottleneckBlock(nn.Module):
    """Narrow-wide per-frame layers with a projection skip (width changes)."""

    def __init__(self, cin: int, cout: int, act: str):
        super().__init__()
        mid = max(4, cout // 4)
        self.f = nn.Sequential(nn.Conv1d(cin, mid, 1), nn.BatchNorm1d(mid), activation(act, mid),
                               nn.Conv1d(mid, cout, 1), nn.BatchNorm1d(cout))
        self.skip = nn.Sequential(nn.Conv1d(cin, cout, 1), nn.BatchNorm1d(cout))
        self.act = activation(act, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.skip(x) + self.f(x))


class _FrameMLP(nn.Module):
    def __init__(self, n_features: int, n_classes: int, context: int, hidden: int, n_layers: int,
                 residual: str, act: str, dropout: float):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(n_features, hidden, 2 * context + 1, padding=context),
                                   nn.BatchNorm1d(hidden), activation(act, hidden)]
        for i in range(n_layers):
            if residual == "basic":
                layers.append(_BasicBlock(hidden, act))
            elif residual == "bottleneck":
                layers.append(_BottleneckBlock(hidden, hidden * 2 if i == 0 else hidden, act))
                hidden = hidden * 2 if i == 0 else hidden
            else:
                layers += [nn.Conv1d(hidden, hidden, 1), nn.BatchNorm1d(hidden), activation(act, hidden)]
        self.frames = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, F, T)
        h = self.frames(x)  # (B, hidden, T)
        return self.head(h.mean(dim=2))


def build_mlp(input_shape: tuple[int, int], n_classes: int, *, context: int = 2, hidden: int = 64,
              n_layers: int = 2, residual: str = "none", activation_fn: str = "relu",
              dropout: float = 0.1) -> nn.Module:
    """Frame MLP with a +-``context`` window; ``residual`` is ``none``, ``basic`` or ``bottleneck``."""
    if residual not in ("none", "basic", "bottleneck"):
        raise ValueError(f"residual must be none, basic or bottleneck, not '{residual}'")
    return _FrameMLP(input_shape[0], n_classes, context, hidden, n_layers, residual, activation_fn, dropout)
