"""Teachers for knowledge distillation: a torch model, a saved ``.pt`` model, or a ``.tflite`` file.

A teacher only has to map features (B, F, T) to logits (B, classes) under ``torch.no_grad``, which
is all :func:`nas.train.train` asks of it. A ``.tflite`` teacher (e.g. the file of an earlier trial,
the one thing every trial keeps) runs in LiteRT, int8/int16 inputs quantized with the file's own
scale and zero point, so soft targets come from exactly the model that was measured.

The teacher must see the student's input: same frontend (features x frames) and the same classes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nas.deploy.interpreters import LiteRTRunner
from nas.errors import ConfigError, ExportError

log = logging.getLogger(__name__)


class TFLiteTeacher(nn.Module):
    """Logits of a ``.tflite`` file run in LiteRT, as a (non-trainable) torch module."""

    def __init__(self, model: bytes):
        super().__init__()
        self.runner = LiteRTRunner(model)
        shape = tuple(int(d) for d in self.runner.inp["shape"])
        self.input_shape = shape[1:]
        self.n_classes = int(self.runner.out["shape"][-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, F, T) -> (B, classes)
        logits = self.runner.predict(x.detach().cpu().numpy().astype(np.float32))
        return torch.from_numpy(logits)


def _shape_of(model: nn.Module) -> tuple[tuple[int, ...] | None, int | None]:
    shape = getattr(model, "input_shape", None)
    classes = getattr(model, "n_classes", None)
    return (tuple(shape) if shape is not None else None), classes


def load_teacher(source: nn.Module | bytes | str | Path, *, input_shape: tuple[int, int],
                 n_classes: int) -> nn.Module:
    """Turn a teacher reference into an eval-mode module that fits the student.

    Args:
        source: a module, ``.tflite`` bytes, or a path to a ``.tflite`` file or a ``.pt`` file
            holding a whole pickled torch model (``torch.save(model, path)``).
        input_shape, n_classes: the student's (features, frames) and number of classes.

    Raises:
        ConfigError: the file does not exist, has an unknown suffix, or its input/output shape
            does not match the student's (a teacher trained on another frontend or dataset).
        ExportError: LiteRT cannot load the ``.tflite`` file.
    """
    where = "teacher"
    if isinstance(source, (str, Path)):
        path = Path(source)
        where = f"teacher {path}"
        if not path.exists():
            raise ConfigError(f"{where}: file not found; give a .tflite or .pt file or 'trial:N' of this study")
        if path.suffix == ".tflite":
            source = path.read_bytes()
        elif path.suffix in (".pt", ".pth"):
            try:
                source = torch.load(path, map_location="cpu", weights_only=False)
            except Exception as e:  # pickle and torch raise many types
                raise ConfigError(f"{where}: cannot load the torch model: {type(e).__name__}: {e}") from e
            if not isinstance(source, nn.Module):
                raise ConfigError(f"{where}: holds a {type(source).__name__}, not a whole model; "
                                  "save it with torch.save(model, path)")
        else:
            raise ConfigError(f"{where}: unknown teacher format '{path.suffix}': use .tflite or .pt")
    if isinstance(source, (bytes, bytearray)):
        try:
            source = TFLiteTeacher(bytes(source))
        except ExportError as e:
            raise ExportError(f"{where}: {e}") from e
    teacher = source.eval()
    shape, classes = _shape_of(teacher)
    if shape is not None and tuple(shape) != tuple(input_shape):
        raise ConfigError(f"{where}: takes inputs {tuple(shape)} but the student's features are "
                          f"{tuple(input_shape)}: pick a teacher trained with the same frontend")
    if classes is not None and int(classes) != int(n_classes):
        raise ConfigError(f"{where}: predicts {classes} classes, the dataset has {n_classes}")
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher
