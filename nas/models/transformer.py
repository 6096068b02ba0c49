"""A small transformer encoder over frames.

(B, F, T) -> strided patch embedding (``frame_stride`` frames per token, a Conv1d) + learned
positions -> ``n_layers`` pre-norm encoder layers -> mean over tokens -> layer norm -> classifier.

"""

from __future__ import annotations

import torch
from torch import nn

from nas.models.layers import activation


class SelfAttention(nn.MultiheadAttention):
    """Multi-head self-attention over (B, N, D) -> (B, N, D); ``d_model`` must be a multiple of ``n_heads``.

    A ``nn.MultiheadAttention`` (one fused q/k/v projection, BATCH_MATMUL + SOFTMAX in the graph)
    so that :func:`nas.compress.prune_model`, which leaves attention alone, keeps ``d_model`` and the
    head split intact while pruning the feed-forward width.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not a multiple of n_heads {n_heads}")
        super().__init__(d_model, n_heads, dropout=dropout, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]  # x: (B, N, D)
        return super().forward(x, x, x, need_weights=False)[0]


class _EncoderLayer(nn.Module):
    """Pre-norm: x + attn(ln(x)), then x + ff(ln(x))."""

    def __init__(self, d_model: int, n_heads: int, ff_mult: int, act: str, dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_heads, dropout)
        self.ff = nn.Sequential(nn.Linear(d_model, d_model * ff_mult), activation(act), nn.Dropout(dropout),
                                nn.Linear(d_model * ff_mult, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.ff(self.ln2(x))


class _Transformer(nn.Module):
    def __init__(self, input_shape: tuple[int, int], n_classes: int, d_model: int, n_heads: int,
                 n_layers: int,
                 ff_mult: int, frame_stride: int, act: str, dropout: float):
        super().__init__()
        n_features, n_frames = input_shape
        self.frame_stride = max(1, min(frame_stride, n_frames))
        n_tokens = n_frames // self.frame_stride
        self.embed = nn.Conv1d(n_features, d_model, self.frame_stride, stride=self.frame_stride)
        self.pos = nn.Parameter(torch.zeros(1, n_tokens, d_model))
        nn.init.normal_(self.pos, std=0.02)
        self.layers = nn.Sequential(*(_EncoderLayer(d_model, n_heads, ff_mult, act, dropout)
                                      for _ in range(n_layers)))
        self.norm = nn.LayerNorm(d_model)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(d_model, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, F, T)
        h = self.embed(x).transpose(1, 2) + self.pos  # (B, N, D)
        h = self.layers(h)
        return self.classifier(self.norm(h.mean(dim=1)))


def build_transformer(input_shape: tuple[int, int], n_classes: int, *, d_model: int = 32, n_heads: int = 2,
                      n_layers: int = 1, ff_mult: int = 2, frame_stride: int = 2, activation_fn: str = "relu",
                      dropout: float = 0.1) -> nn.Module:
    """Transformer encoder over tokens of ``frame_stride`` frames; ``n_heads`` must divide ``d_model``."""
    if n_layers < 1 or ff_mult < 1:
        raise ValueError(f"n_layers and ff_mult must be >= 1, got {n_layers}, {ff_mult}")
    return _Transformer(input_shape, n_classes, d_model, n_heads, n_layers, ff_mult, frame_stride,
                        activation_fn, dropout)
