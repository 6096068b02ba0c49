"""Interpreters that run a ``.tflite`` file: LiteRT (the host/Raspberry Pi runtime) and TFLite-Micro.

Both take float features (N, F, T) and return float logits; int8 files get their input quantized
with the file's own scale and zero point and their output dequantized, exactly as firmware would.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from nas.errors import ExportError, NotDeployableError
from nas.logs import without_native_noise

log = logging.getLogger(__name__)


def _quantize(x: np.ndarray, dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    if np.issubdtype(dtype, np.floating) or scale == 0:
        return x.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)


def _dequantize(y: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    if np.issubdtype(y.dtype, np.floating) or scale == 0:
        return y.astype(np.float32)
    return ((y.astype(np.float32) - zero_point) * scale).astype(np.float32)


class TFLiteRunner(ABC):
    """Runs one ``.tflite`` model, one sample at a time (batch 1, as on the device)."""

    name = ""

    @abstractmethod
    def run_one(self, x: np.ndarray) -> np.ndarray:
        """Float logits for one input shaped like the model input (with its batch axis of 1)."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([self.run_one(x[i:i + 1]) for i in range(len(x))]) if len(x) else np.zeros((0, 0))


class LiteRTRunner(TFLiteRunner):
    name = "litert"

    def __init__(self, model: bytes, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interp = Interpreter(model_content=bytes(model), num_threads=num_threads)
            without_native_noise(self.interp.allocate_tensors)  # the delegate's notice comes here
        except (ValueError, RuntimeError) as e:
            raise ExportError(f"LiteRT cannot load the model: {e}") from e
        self.inp = self.interp.get_input_details()[0]
        self.out = self.interp.get_output_details()[0]

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self.inp["dtype"])

    def run_one(self, x: np.ndarray) -> np.ndarray:
        scale, zp = self.inp["quantization"]
        self.interp.set_tensor(self.inp["index"], _quantize(x, self.inp["dtype"], scale, zp))
        self.interp.invoke()
        y = self.interp.get_tensor(self.out["index"])
        return _dequantize(y, *self.out["quantization"])


class TFLMRunner(TFLiteRunner):
    """TFLite-Micro's real kernels (reference build) through the ``tflite-micro`` Python runtime."""

    name = "tflm"

    def __init__(self, model: bytes, arena_size: int = 4 << 20):
        from tflite_micro.python.tflite_micro import runtime

        try:
            self.interp = runtime.Interpreter.from_bytes(bytes(model), arena_size=arena_size)
        except RuntimeError as e:
            raise NotDeployableError(f"TFLite-Micro cannot run the model: {e}") from e
        self.inp = self.interp.get_input_details(0)
        self.out = self.interp.get_output_details(0)

    @staticmethod
    def _qparams(details: dict) -> tuple[float, int]:
        q = details["quantization_parameters"]
        if len(q["scales"]) == 0:
            return 0.0, 0
        return float(q["scales"][0]), int(q["zero_points"][0])

    def run_one(self, x: np.ndarray) -> np.ndarray:
        self.interp.set_input(_quantize(x, self.inp["dtype"], *self._qparams(self.inp)), 0)
        try:
            self.interp.invoke()
        except RuntimeError as e:
            raise NotDeployableError(f"TFLite-Micro failed to run the model: {e}") from e
        return _dequantize(self.interp.get_output(0), *self._qparams(self.out))


def evaluate_file(model: bytes, x: np.ndarray, y: np.ndarray, runner: Callable[[bytes], TFLiteRunner] = LiteRTRunner
                  ) -> tuple[float, np.ndarray]:
    """Accuracy of the ``.tflite`` file on (x, y) and its confusion matrix (true x predicted)."""
    logits = runner(model).predict(x)
    pred = logits.argmax(axis=1)
    n = int(max(y.max(initial=0), logits.shape[1] - 1)) + 1 if len(y) else 0
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    return float((pred == y).mean()) if len(y) else 0.0, cm
