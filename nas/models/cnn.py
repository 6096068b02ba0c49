"""Convolutional families over the (features x frames) image: plain CNN and DS-CNN."""

from __future__ import annotations

import torch
from torch import nn

from nas.models.layers import GlobalAvgPool2d, TimePool, activation


def _conv_bn_act(cin: int, cout: int, kernel: int | tuple[int, int], stride: int | tuple[int, int],
                 act: str, groups: int = 1) -> list[nn.Module]:
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    pad = (k[0] // 2, k[1] // 2)
    return [nn.Conv2d(cin, cout, k, stride=stride, padding=pad, groups=groups, bias=False),
            nn.BatchNorm2d(cout), activation(act, cout)]


class _Image(nn.Module):
    """(B, F, T) -> (B, 1, F, T) -> conv stack -> pooled -> classifier.

    ``head`` is ``time`` (average over frames, keep frequency rows: MEAN + RESHAPE + FC) or
    ``global`` (average over both: MEAN + FC, fewest parameters)."""

    def __init__(self, stack: nn.Sequential, input_shape: tuple[int, int], n_classes: int,
                 head: str, dropout: float):
        super().__init__()
        self.stack = stack
        with torch.no_grad():
            c, f, _ = stack(torch.zeros(1, 1, *input_shape)).shape[1:]
        self.pool: nn.Module
        if head == "time":
            self.pool, width = TimePool(), c * f
        elif head == "global":
            self.pool, width = GlobalAvgPool2d(), c
        else:
            raise ValueError(f"head must be 'time' or 'global', not '{head}'")
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, F, T)
        h = self.stack(x.unsqueeze(1))  # (B, C, F', T')
        return self.classifier(self.pool(h))


def build_cnn(input_shape: tuple[int, int], n_classes: int, *, n_blocks: int = 2, channels: int = 16,
              channel_growth: float = 2.0, kernel: int = 3, pool: bool = True, activation_fn: str = "relu",
              dropout: float = 0.1, head: str = "time") -> nn.Module:
    """Plain CNN: ``n_blocks`` x (conv k x k + batch-norm + activation + 2x2 max-pool), pool, linear."""
    layers: list[nn.Module] = []
    cin, cout = 1, channels
    f, t = input_shape
    for _ in range(n_blocks):
        layers += _conv_bn_act(cin, cout, kernel, 1, activation_fn)
        if pool and min(f, t) >= 4:
            layers.append(nn.MaxPool2d(2))
            f, t = f // 2, t // 2
        cin, cout = cout, int(round(cout * channel_growth))
    return _Image(nn.Sequential(*layers), input_shape, n_classes, head, dropout)


def build_dscnn(input_shape: tuple[int, int], n_classes: int, *, n_blocks: int = 3, channels: int = 32,
                first_kernel: int = 5, first_stride: int = 2, kernel: int = 3,
                activation_fn: str = "relu", dropout: float = 0.1, head: str = "time") -> nn.Module:
    """DS-CNN (the keyword-spotting standard): a strided first conv, then ``n_blocks`` depthwise 3x3 +
    pointwise 1x1 pairs, each with batch-norm and activation, pool, linear."""
    layers = _conv_bn_act(1, channels, first_kernel, first_stride, activation_fn)
    for _ in range(n_blocks):
        layers += _conv_bn_act(channels, channels, kernel, 1, activation_fn, groups=channels)
        layers += _conv_bn_act(channels, channels, 1, 1, activation_fn)
    return _Image(nn.Sequential(*layers), input_shape, n_classes, head, dropout)
