"""Read a ``.tflite`` flatbuffer into a small, frozen graph description.

Why our own reader: the cost model needs per-op MACs, element counts and bytes, tensor lifetimes and
a few builtin options (strides, padding, kernel sizes) for any ``.tflite`` file, not only ours. The PyPI
``tflite`` package (generated flatbuffer bindings) gives all of that without running an interpreter.
Parsing is cached in-process by the sha256 of the bytes (:func:`read_graph`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from nas.errors import ExportError

logger = logging.getLogger(__name__)

DTYPE_BYTES = {"float32": 4, "float16": 2, "int32": 4, "uint8": 1, "int64": 8, "bool": 1, "int16": 2,
               "int8": 1, "float64": 8, "uint32": 4, "uint16": 2, "int4": 0.5, "complex64": 8}
#: Ops whose MACs are counted (the others are element-wise / data movement).
MAC_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "TRANSPOSE_CONV",
           "UNIDIRECTIONAL_SEQUENCE_LSTM", "SVDF", "CONV_3D"}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of subgraph 0. ``constant`` = its flatbuffer buffer holds data (weights live in flash)."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    constant: bool
    variable: bool
    per_channel: bool = False

    @property
    def elems(self) -> int:
        n = 1
        for d in self.shape:
            n *= max(int(d), 1)
        return n

    @property
    def nbytes(self) -> int:
        return int(-(-self.elems * DTYPE_BYTES.get(self.dtype, 4) // 1))


@dataclass(frozen=True)
class OpInfo:
    """One operator: its type, tensor indices (-1 = omitted optional input), options and work counts."""

    index: int
    op: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    macs: int = 0
    in_elems: int = 0
    out_elems: int = 0
    weight_bytes: int = 0
    act_bytes: int = 0  # non-constant input + output bytes


@dataclass(frozen=True)
class Graph:
    """The main subgraph of a model plus whole-model totals."""

    ops: tuple[OpInfo, ...]
    tensors: tuple[TensorInfo, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    n_subgraphs: int
    size_bytes: int
    digest: str

    @property
    def macs(self) -> int:
        return sum(o.macs for o in self.ops)

    @property
    def params(self) -> int:
        used = {i for o in self.ops if o.op not in _SHAPE_INPUT_OPS for i in o.inputs[1:] if i >= 0}
        return sum(self.tensors[i].elems for i in used if self.tensors[i].constant)

    @property
    def op_types(self) -> tuple[str, ...]:
        return tuple(sorted({o.op for o in self.ops}))

    def tensor(self, i: int) -> TensorInfo:
        return self.tensors[i]


_SHAPE_INPUT_OPS = {"RESHAPE", "MEAN", "SUM", "PAD", "PADV2", "TRANSPOSE", "SQUEEZE", "EXPAND_DIMS",
                    "STRIDED_SLICE", "SLICE", "GATHER", "REDUCE_MAX", "RESIZE_BILINEAR",
                    "RESIZE_NEAREST_NEIGHBOR", "BROADCAST_TO", "TILE"}


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_graph(tflite: bytes) -> Graph:
    """Parse a ``.tflite`` flatbuffer (cached by content hash).

    Raises:
        ExportError: the bytes are not a readable TFLite flatbuffer.
    """
    data = bytes(tflite)
    return _read_cached(digest_of(data), data)


@functools.lru_cache(maxsize=64)
def _read_cached(digest: str, data: bytes) -> Graph:
    import tflite as tfl  # lazy: flatbuffer bindings are only needed when pricing

    try:
        model = tfl.Model.GetRootAsModel(data, 0)
        sub = model.Subgraphs(0)
        tensors = tuple(_tensor(tfl, model, sub, j) for j in range(sub.TensorsLength()))
        ops = tuple(_op(tfl, model, sub, i, tensors) for i in range(sub.OperatorsLength()))
        inputs = tuple(int(x) for x in sub.InputsAsNumpy()) if sub.InputsLength() else ()
        outputs = tuple(int(x) for x in sub.OutputsAsNumpy()) if sub.OutputsLength() else ()
        n_sub = model.SubgraphsLength()
    except Exception as e:  # the bindings raise anything from IndexError to struct.error
        raise ExportError(f"not a readable .tflite flatbuffer ({len(data)} bytes): {e}") from e
    return Graph(ops, tensors, inputs, outputs, n_sub, len(data), digest)


_NAMES: dict[str, dict[int, str]] = {}


def _enum_names(enum_cls: type) -> dict[int, str]:
    key = enum_cls.__name__
    if key not in _NAMES:
        _NAMES[key] = {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}
    return _NAMES[key]


def _tensor(tfl: Any, model: Any, sub: Any, j: int) -> TensorInfo:
    t = sub.Tensors(j)
    buf = model.Buffers(t.Buffer())
    constant = bool(buf is not None and (buf.DataLength() > 0 or (hasattr(buf, "Size") and buf.Size() > 0)))
    shape = tuple(int(x) for x in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    q = t.Quantization()
    per_channel = bool(q is not None and q.ScaleLength() > 1)
    dtype = _enum_names(tfl.TensorType).get(t.Type(), "unknown").lower()
    name = (t.Name() or b"").decode(errors="replace")
    return TensorInfo(j, name, shape, dtype, constant, bool(t.IsVariable()), per_channel)


def _op(tfl: Any, model: Any, sub: Any, i: int, tensors: tuple[TensorInfo, ...]) -> OpInfo:
    o = sub.Operators(i)
    code = model.OperatorCodes(o.OpcodeIndex())
    op_code = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    name = _enum_names(tfl.BuiltinOperator).get(op_code, f"OP_{op_code}")
    if name == "CUSTOM":
        name = "CUSTOM:" + (code.CustomCode() or b"?").decode(errors="replace")
    ins = tuple(int(x) for x in o.InputsAsNumpy()) if o.InputsLength() else ()
    outs = tuple(int(x) for x in o.OutputsAsNumpy()) if o.OutputsLength() else ()
    opts = _options(tfl, o)
    in_t = [tensors[k] for k in ins if k >= 0]
    out_t = [tensors[k] for k in outs if k >= 0]
    in_elems = sum(t.elems for t in in_t if not t.constant)
    out_elems = sum(t.elems for t in out_t)
    weight_bytes = sum(t.nbytes for t in in_t if t.constant)
    act_bytes = sum(t.nbytes for t in in_t if not t.constant) + sum(t.nbytes for t in out_t)
    macs = _macs(name, ins, outs, tensors, opts)
    return OpInfo(i, name, ins, outs, opts, macs, in_elems, out_elems, weight_bytes, act_bytes)


def _macs(name: str, ins: tuple[int, ...], outs: tuple[int, ...], tensors: tuple[TensorInfo, ...],
          opts: dict[str, Any]) -> int:
    if name not in MAC_OPS or not outs:
        return 0
    out = tensors[outs[0]]
    if name in ("CONV_2D", "CONV_3D"):
        f = tensors[ins[1]].shape  # [Cout, kh, kw, Cin]
        return out.elems * _prod(f[1:])
    if name == "DEPTHWISE_CONV_2D":
        f = tensors[ins[1]].shape  # [1, kh, kw, Cout]
        return out.elems * _prod(f[1:3])
    if name == "FULLY_CONNECTED":
        return out.elems * tensors[ins[1]].shape[-1]
    if name == "BATCH_MATMUL":
        a = tensors[ins[0]].shape
        k = a[-2] if opts.get("adj_x") else a[-1]
        return out.elems * k
    if name == "TRANSPOSE_CONV":
        f = tensors[ins[1]].shape  # [Cout, kh, kw, Cin]; input 2 is the data
        return tensors[ins[2]].elems * _prod(f[:3])
    if name == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        x = tensors[ins[0]].shape  # [B, T, I] (time-major off)
        h = tensors[ins[4]].shape[0] if len(ins) > 4 and ins[4] >= 0 else out.shape[-1]
        return _prod(x[:-1]) * 4 * h * (x[-1] + h)
    return out.elems * (tensors[ins[1]].shape[-1] if len(ins) > 1 and ins[1] >= 0 else 1)


def _prod(xs: Any) -> int:
    n = 1
    for x in xs:
        n *= int(x)
    return n


_OPTION_FIELDS = {
    "Conv2DOptions": ("Padding", "StrideW", "StrideH", "DilationWFactor", "DilationHFactor",
                      "FusedActivationFunction"),
    "DepthwiseConv2DOptions": ("Padding", "StrideW", "StrideH", "DepthMultiplier", "DilationWFactor",
                               "DilationHFactor", "FusedActivationFunction"),
    "Pool2DOptions": ("Padding", "StrideW", "StrideH", "FilterWidth", "FilterHeight"),
    "FullyConnectedOptions": ("KeepNumDims", "WeightsFormat"),
    "BatchMatMulOptions": ("AdjX", "AdjY"),
    "ConcatenationOptions": ("Axis",),
    "ReducerOptions": ("KeepDims",),
    "SoftmaxOptions": ("Beta",),
}


def _options(tfl: Any, o: Any) -> dict[str, Any]:
    """Builtin options as ``snake_case`` keys, only for the option tables the cost model reads."""
    kind = _enum_names(tfl.BuiltinOptions).get(o.BuiltinOptionsType(), "")
    fields = _OPTION_FIELDS.get(kind)
    table = o.BuiltinOptions()
    if not fields or table is None:
        return {}
    cls = getattr(getattr(tfl, kind), kind, None) or getattr(tfl, kind)
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    out: dict[str, Any] = {}
    for f in fields:
        snake = "".join("_" + c.lower() if c.isupper() else c for c in f).lstrip("_")
        snake = snake.replace("adj_x", "adj_x")
        out[snake] = getattr(obj, f)()
    if "padding" in out:
        out["padding"] = "same" if out["padding"] == 0 else "valid"
    return out
