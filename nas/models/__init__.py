"""Model families. Each family is one builder function
``build_x(input_shape, n_classes, *, **hyper_params) -> nn.Module``; :data:`FAMILIES` is the one
place a family name from YAML becomes a builder."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, cast

from torch import nn

from nas.candidate import ArchConfig
from nas.errors import ConfigError
from nas.models.cnn import build_cnn, build_dscnn
from nas.models.layers import AudioClassifier, count_params
from nas.models.mlp import build_mlp
from nas.models.recurrent import build_gru, build_lstm
from nas.models.rescnn import build_rescnn
from nas.models.transformer import build_transformer

Builder = Callable[..., nn.Module]

FAMILIES: dict[str, Builder] = {
    "cnn": build_cnn,
    "dscnn": build_dscnn,
    "mlp": build_mlp,
    "rescnn": build_rescnn,
    "lstm": build_lstm,
    "gru": build_gru,
    "transformer": build_transformer,
}


def family_params(family: str) -> dict[str, Any]:
    """The hyper-parameters a family's builder accepts, with their defaults."""
    try:
        sig = inspect.signature(FAMILIES[family])
    except KeyError as e:
        raise ConfigError(f"unknown model family '{family}': available: {', '.join(sorted(FAMILIES))}") from e
    return {p.name: p.default for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY}


def build_model(arch: ArchConfig, input_shape: tuple[int, int], n_classes: int) -> AudioClassifier:
    """Build the torch model of ``arch`` for inputs (B, *input_shape)."""
    known = family_params(arch.family)
    kwargs = arch.as_kwargs()
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise ConfigError(f"family '{arch.family}' has no parameter(s) {unknown}: it takes {sorted(known)}")
    shape = cast("tuple[int, int]", tuple(input_shape))  # a tuple even when a caller passes a list
    body = FAMILIES[arch.family](shape, n_classes, **kwargs)
    return AudioClassifier(body, arch.family, shape, n_classes)


#: Activations TFLite-Micro has no kernel for: a candidate using one runs in LiteRT only.
TFLM_UNSUPPORTED_ACTIVATIONS = {"gelu": "TFLite-Micro has no GELU kernel"}


def tflm_claim(arch: ArchConfig) -> str | None:
    """Why ``arch`` will not run on TFLite-Micro, or None if its builder claims it will.

    Every family is built from ops TFLite-Micro runs in float and int8 (recurrent families as a
    cell loop, see :mod:`nas.models.recurrent`); the exception is an activation without a TFLM
    kernel. The hardware stage measures the truth (TFLM's allocator); this claim is what the
    family tests check against it.
    """
    act = arch.get("activation_fn", family_params(arch.family).get("activation_fn"))
    return TFLM_UNSUPPORTED_ACTIVATIONS.get(act) if isinstance(act, str) else None


__all__ = ["FAMILIES", "AudioClassifier", "build_model", "count_params", "family_params", "tflm_claim"]
