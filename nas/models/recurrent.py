"""LSTM and GRU over frames, written as an explicit cell loop that keeps only the last hidden state.

Why not ``nn.LSTM``/``nn.GRU``: litert-torch unrolls them into ~800 ops ending in a CONCATENATION of
every step, which TFLite-Micro refuses (it allows 10 inputs), and int8 ``nn.GRU`` does not convert.
The loop below converts to plain FULLY_CONNECTED / LOGISTIC / TANH / MUL / ADD ops (about 16 per
step) that TFLite-Micro runs in float and int8. To bound the number of steps (ops, conversion time,
arena, latency), each step reads ``frame_stride`` stacked frames.

Gate weights are ``nn.Linear`` layers, so torch-pruning removes hidden units consistently across
gates, the layers above and the classifier (see docs/models.md for what it cannot do here).
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn


class _Gates(nn.Module):
    """Pre-activations of ``n`` gates from an input x and the state h.

    ``concat``: one FULLY_CONNECTED per gate on [x, h] (one CONCATENATION of two tensors per step,
    fewest ops). Used for the first layer, whose input (stacked frames) is never pruned. Upper layers
    use ``W_x x + W_h h`` instead: torch-pruning mis-indexes a concatenation of two pruned hidden
    states inside the unrolled loop.
    """

    def __init__(self, n: int, n_in: int, hidden: int, concat: bool):
        super().__init__()
        self.concat = concat
        if concat:
            self.xh = nn.ModuleList(nn.Linear(n_in + hidden, hidden) for _ in range(n))
        else:
            self.x = nn.ModuleList(nn.Linear(n_in, hidden) for _ in range(n))
            self.h = nn.ModuleList(nn.Linear(hidden, hidden, bias=False) for _ in range(n))

    @property
    def hidden(self) -> int:
        """The hidden size now (pruning may have removed units since construction)."""
        return cast(nn.Linear, self.xh[0] if self.concat else self.x[0]).out_features

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> list[torch.Tensor]:
        if self.concat:
            xh = torch.cat([x, h], dim=1)  # (B, n_in + H)
            return [lin(xh) for lin in self.xh]
        return [lx(x) + lh(h) for lx, lh in zip(self.x, self.h, strict=True)]


class _LSTMCell(nn.Module):
    """One LSTM step; gate order i, f, g, o (as ``nn.LSTM``)."""

    def __init__(self, n_in: int, hidden: int, concat: bool):
        super().__init__()
        self.gates = _Gates(4, n_in, hidden, concat)

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pi, pf, pg, po = self.gates(x, h)
        c = torch.sigmoid(pf) * c + torch.sigmoid(pi) * torch.tanh(pg)
        return torch.sigmoid(po) * torch.tanh(c), c


class _GRUCell(nn.Module):
    """One GRU step (``nn.GRU``'s formulation: the reset gate scales the recurrent part of n)."""

    def __init__(self, n_in: int, hidden: int, concat: bool):
        super().__init__()
        self.gates = _Gates(2, n_in, hidden, concat)  # r, z
        self.x_n = nn.Linear(n_in, hidden)
        self.h_n = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        pr, pz = self.gates(x, h)
        r, z = torch.sigmoid(pr), torch.sigmoid(pz)
        n = torch.tanh(self.x_n(x) + r * self.h_n(h))
        return n + z * (h - n)  # == (1 - z) * n + z * h


class _Recurrent(nn.Module):
    """(B, F, T) -> T' steps of ``frame_stride`` stacked frames -> cell loop -> last h -> classifier.

    Layer ``l > 0`` steps right after layer ``l - 1`` on the same step, so no sequence of hidden
    states is ever stored (nothing to concatenate beyond [input, h]).
    """

    def __init__(self, kind: str, input_shape: tuple[int, int], n_classes: int, hidden: int, n_layers: int,
                 frame_stride: int, dropout: float):
        super().__init__()
        if kind not in ("lstm", "gru"):
            raise ValueError(f"recurrent kind must be lstm or gru, not '{kind}'")
        if frame_stride < 1 or hidden < 1 or n_layers < 1:
            raise ValueError(f"hidden, n_layers and frame_stride must be >= 1, got {hidden}, {n_layers}, "
                             f"{frame_stride}")
        n_features, n_frames = input_shape
        self.kind = kind
        self.frame_stride = min(frame_stride, n_frames)
        self.steps = n_frames // self.frame_stride
        cell = _LSTMCell if kind == "lstm" else _GRUCell
        n_in = n_features * self.frame_stride
        self.cells = nn.ModuleList(cell(n_in if layer == 0 else hidden, hidden, layer == 0)
                                   for layer in range(n_layers))
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, F, T)
        b, s = x.shape[0], self.frame_stride
        # Sizes from the weights, not the constructor: pruning may have removed hidden units.
        hs = [x.new_zeros(b, cast(_Gates, cell.gates).hidden) for cell in self.cells]
        cs = [h.clone() for h in hs]
        xt = x.transpose(1, 2)  # (B, T, F): the frames of one step are contiguous
        for t in range(self.steps):
            inp = xt[:, t * s:(t + 1) * s].reshape(b, -1)  # (B, s * F)
            for layer, cell in enumerate(self.cells):
                if self.kind == "lstm":
                    hs[layer], cs[layer] = cell(inp, hs[layer], cs[layer])
                else:
                    hs[layer] = cell(inp, hs[layer])
                inp = hs[layer]
        return self.classifier(hs[-1])


def build_lstm(input_shape: tuple[int, int], n_classes: int, *, hidden: int = 32, n_layers: int = 1,
               frame_stride: int = 4, dropout: float = 0.1) -> nn.Module:
    """LSTM over frames (cell loop, last hidden state); ``frame_stride`` frames are stacked per step."""
    return _Recurrent("lstm", input_shape, n_classes, hidden, n_layers, frame_stride, dropout)


def build_gru(input_shape: tuple[int, int], n_classes: int, *, hidden: int = 32, n_layers: int = 1,
              frame_stride: int = 4, dropout: float = 0.1) -> nn.Module:
    """GRU over frames (cell loop, last hidden state); ``frame_stride`` frames are stacked per step."""
    return _Recurrent("gru", input_shape, n_classes, hidden, n_layers, frame_stride, dropout)
