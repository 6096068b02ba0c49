"""Residual CNN over the (features x frames) image (the sound-event workhorse).

A strided stem, then ``n_blocks`` residual blocks; each block after the first halves both axes
(stride 2) and multiplies the channels by ``channel_growth``. ``residual``:

- ``basic``: conv k x k + BN + act + conv k x k + BN, identity skip (1x1 conv + BN projection when
  the shape changes), activation after the add;
- ``bottleneck``: 1x1 reduce to a quarter + k x k + 1x1 expand, projection skip when the shape changes;
- ``none``: the same convolutions without the skip (to let the search judge what the skip buys).

The activation after an add is a module (``nn.ReLU()``), not a functional call: PT2E quantization
needs it to fuse the add (see DESIGN.md).
"""

from __future__ import annotations

import torch
from torch import nn

from nas.models.cnn import _conv_bn_act, _Image
from nas.models.layers import activation

RESIDUALS = ("none", "basic", "bottleneck")


def _conv_bn(cin: int, cout: int, kernel: int, stride: int) -> list[nn.Module]:
    conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)
    return [conv, nn.BatchNorm2d(cout)]


class _ResBlock(nn.Module):
    """One residual block: ``act(f(x) + skip(x))``; ``skip`` is None for the plain (``none``) block."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, residual: str, act: str):
        super().__init__()
        if residual == "bottleneck":
            mid = max(4, cout // 4)
            layers = (_conv_bn_act(cin, mid, 1, 1, act) + _conv_bn_act(mid, mid, kernel, stride, act)
                      + _conv_bn(mid, cout, 1, 1))
        else:
            layers = _conv_bn_act(cin, cout, kernel, stride, act) + _conv_bn(cout, cout, kernel, 1)
        self.f = nn.Sequential(*layers)
        self.skip: nn.Module | None = None
        if residual != "none":
            same = cin == cout and stride == 1
            self.skip = nn.Identity() if same else nn.Sequential(*_conv_bn(cin, cout, 1, stride))
        self.act = activation(act, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.f(x)
        if self.skip is not None:
            y = y + self.skip(x)
        return self.act(y)


def build_rescnn(input_shape: tuple[int, int], n_classes: int, *, n_blocks: int = 2, channels: int = 16,
                 channel_growth: float = 1.5, kernel: int = 3, first_stride: int = 2, residual: str = "basic",
                 activation_fn: str = "relu", dropout: float = 0.1, head: str = "time") -> nn.Module:
    """Residual CNN: stem conv (stride ``first_stride``) + ``n_blocks`` residual blocks + pool + linear."""
    if residual not in RESIDUALS:
        raise ValueError(f"residual must be one of {RESIDUALS}, not '{residual}'")
    layers: list[nn.Module] = _conv_bn_act(1, channels, kernel, first_stride, activation_fn)
    f, t = (-(-n // first_stride) for n in input_shape)
    cin = channels
    for i in range(n_blocks):
        stride = 2 if i > 0 and min(f, t) >= 4 else 1
        f, t = -(-f // stride), -(-t // stride)
        cout = cin if i == 0 else int(round(cin * channel_growth))
        layers.append(_ResBlock(cin, cout, kernel, stride, residual, activation_fn))
        cin = cout
    return _Image(nn.Sequential(*layers), input_shape, n_classes, head, dropout)
