"""Which TFLite-Micro / CMSIS-NN kernel runs each op, its scratch buffer, and runtime op support.

Why: latency and RAM on a Cortex-M depend on the kernel *variant* the CMSIS-NN wrappers pick (1x1 fast
path, im2col conv, 3x3 depthwise, ...) and on the build's SIMD level: ``c`` (pure C: M0/M0+/M3),
``dsp`` (M4/M7/M33 with DSP) or ``mve`` (Helium: M55/M85). The conditions and scratch formulas follow
CMSIS-NN ``arm_convolve_get_buffer_sizes_s8.c``, ``arm_depthwise_conv_get_buffer_sizes_s8.c``,
``arm_avgpool_get_buffer_sizes_s8.c`` and TFLM ``kernels/reduce_common.cc`` (COST_MODEL.md §1.7).
"""

from __future__ import annotations

from dataclasses import dataclass

from nas.hardware.graph import Graph, OpInfo

#: Builtin ops registered by TFLite-Micro's op resolver (tensorflow/lite/micro/micro_mutable_op_resolver.h).
TFLM_OPS = frozenset("""
ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL BATCH_TO_SPACE_ND BROADCAST_ARGS
BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D COS CUMSUM DEPTH_TO_SPACE DEPTHWISE_CONV_2D DEQUANTIZE
DIV ELU EMBEDDING_LOOKUP EQUAL EXP EXPAND_DIMS FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND
GREATER GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG LOGICAL_AND
LOGICAL_NOT LOGICAL_OR LOGISTIC LOG_SOFTMAX MAX_POOL_2D MAXIMUM MEAN MINIMUM MIRROR_PAD MUL NEG NOT_EQUAL PACK
PAD PADV2 PRELU QUANTIZE READ_VARIABLE REDUCE_MAX RELU RELU6 RELU_N1_TO_1 RESHAPE RESIZE_BILINEAR
RESIZE_NEAREST_NEIGHBOR REVERSE_V2 ROUND RSQRT SELECT_V2 SHAPE SIN SLICE SOFTMAX SPACE_TO_BATCH_ND
SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE SQUEEZE STRIDED_SLICE SUB SUM SVDF TANH TRANSPOSE
TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM UNPACK VAR_HANDLE WHILE ZEROS_LIKE
""".split())
#: TFLM's CONCATENATION kernel keeps a fixed array of input pointers (kMaxInputNum in concatenation.cc).
TFLM_MAX_CONCAT_INPUTS = 10
_FLOAT = ("float32", "float16")
_COPY_OPS = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "CONCATENATION", "PAD", "PADV2", "SLICE", "STRIDED_SLICE",
             "GATHER", "PACK", "UNPACK", "SPLIT", "SPLIT_V", "MIRROR_PAD", "BROADCAST_TO", "TILE"}


@dataclass(frozen=True)
class KernelChoice:
    """The cost-model class of one op (a key of the profile's ``cost`` table) and its scratch bytes."""

    cls: str
    unit: str  # "mac" | "out" | "in" | "byte" (what the coefficient multiplies)
    label: str  # human-readable kernel, e.g. "cmsis-nn conv 1x1"
    scratch_bytes: int = 0
    dtype: str = "int8"


def act_dtype(graph: Graph, op: OpInfo) -> str:
    for t in op.inputs:
        if t >= 0 and not graph.tensor(t).constant:
            return graph.tensor(t).dtype
    return graph.tensor(op.outputs[0]).dtype if op.outputs else "int8"


def weight_dtype(graph: Graph, op: OpInfo) -> str | None:
    if len(op.inputs) > 1 and op.inputs[1] >= 0 and graph.tensor(op.inputs[1]).constant:
        return graph.tensor(op.inputs[1]).dtype
    return None


def classify(graph: Graph, op: OpInfo, variant: str) -> KernelChoice:
    """Pick the kernel class and scratch size of ``op`` for a build of ``variant`` (c | dsp | mve)."""
    dt = act_dtype(graph, op)
    if dt in _FLOAT:
        return _float_choice(graph, op, dt)
    name = op.op
    if name == "CONV_2D":
        return _conv(graph, op, variant, dt)
    if name == "DEPTHWISE_CONV_2D":
        return _depthwise(graph, op, variant, dt)
    if name in ("FULLY_CONNECTED", "BATCH_MATMUL"):
        k = graph.tensor(op.inputs[1]).shape[-1] if len(op.inputs) > 1 else 1
        return KernelChoice("fc_small" if k < 16 else "fc", "mac", f"cmsis-nn fc (K={k})", 0, dt)
    if name == "AVERAGE_POOL_2D":
        c = graph.tensor(op.outputs[0]).shape[-1]
        return KernelChoice("avgpool", "in", "cmsis-nn avgpool", 4 * c if variant == "dsp" else 0, dt)
    if name == "MAX_POOL_2D":
        return KernelChoice("maxpool", "in", "cmsis-nn maxpool", 0, dt)
    if name in ("ADD", "SUB"):
        return KernelChoice("add", "out", "cmsis-nn add", 0, dt)
    if name == "MUL":
        return KernelChoice("mul", "out", "cmsis-nn mul", 0, dt)
    if name == "SOFTMAX":
        return KernelChoice("softmax", "out", "cmsis-nn softmax", 0, dt)
    if name in ("MEAN", "SUM"):
        rank = len(graph.tensor(op.inputs[0]).shape)
        axes = graph.tensor(op.inputs[1]).elems if len(op.inputs) > 1 else 1
        scratch = 4 * graph.tensor(op.outputs[0]).elems + 4 * rank + 4 * axes
        return KernelChoice("mean", "in", "reference reduce", scratch, dt)
    if name == "TRANSPOSE":
        return KernelChoice("transpose", "out", "transpose", 0, dt)
    if name in _COPY_OPS:
        return KernelChoice("copy", "byte", f"reference {name.lower()} (memcpy)", 0, dt)
    if name in ("QUANTIZE", "DEQUANTIZE"):
        return KernelChoice("quantize", "out", f"reference {name.lower()}", 0, dt)
    return KernelChoice("elementwise_ref", "out", f"reference {name.lower()}", 0, dt)


def _conv(graph: Graph, op: OpInfo, variant: str, dt: str) -> KernelChoice:
    cout, kh, kw, cin = graph.tensor(op.inputs[1]).shape
    o = op.options
    stride = max(o.get("stride_h", 1), o.get("stride_w", 1))
    dil = max(o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1))
    one_by_one = kh == 1 and kw == 1 and dil == 1
    k = kh * kw * cin
    if one_by_one:
        scratch = 0  # GCC builds: arm_convolve_1x1_s8_fast needs none (4*Cin only with Arm Compiler 6)
    elif variant == "mve":
        scratch = 4 * _ceil(k, 16)
    else:
        scratch = 4 * _ceil(k, 4)
    if cin <= 4:
        return KernelChoice("conv_first", "mac", f"cmsis-nn conv first layer {kh}x{kw} Cin={cin}", scratch, dt)
    if one_by_one:
        small = cin < 32 or stride > 1
        return KernelChoice("conv_1x1_small" if small else "conv_1x1", "mac",
                            f"cmsis-nn conv 1x1{' (small/strided)' if small else ''}", scratch, dt)
    return KernelChoice("conv_generic", "mac", f"cmsis-nn conv {kh}x{kw} im2col", scratch, dt)


def _depthwise(graph: Graph, op: OpInfo, variant: str, dt: str) -> KernelChoice:
    _, kh, kw, cout = graph.tensor(op.inputs[1]).shape
    cin = graph.tensor(op.inputs[0]).shape[-1]
    o = op.options
    dil = max(o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1))
    is_3x3 = kh == 3 and kw == 3 and dil == 1
    scratch = 0
    if cin == cout and dil == 1:
        if variant == "mve":
            scratch = 4 * 124 * kh * kw
        elif variant == "dsp" and not is_3x3:
            scratch = 2 * cin * kh * kw
    cls = "dw_3x3" if is_3x3 and cin == cout else "dw_generic"
    return KernelChoice(cls, "mac", f"cmsis-nn depthwise {kh}x{kw}", scratch, dt)


def _float_choice(graph: Graph, op: OpInfo, dt: str) -> KernelChoice:
    if op.op == "DEPTHWISE_CONV_2D":
        return KernelChoice("float_dw", "mac", "reference float depthwise", 0, dt)
    if op.macs:
        return KernelChoice("float_conv", "mac", f"reference float {op.op.lower()}", 0, dt)
    if op.op in _COPY_OPS:
        return KernelChoice("copy", "byte", f"reference {op.op.lower()} (memcpy)", 0, dt)
    if op.op in ("MEAN", "SUM"):
        rank = len(graph.tensor(op.inputs[0]).shape)
        axes = graph.tensor(op.inputs[1]).elems if len(op.inputs) > 1 else 1
        return KernelChoice("float_elem", "in", "reference float reduce", 4 * rank + 4 * axes, dt)
    return KernelChoice("float_elem", "out", f"reference float {op.op.lower()}", 0, dt)


def tflm_unsupported(graph: Graph) -> str | None:
    """Static reasons TFLM cannot run the model correctly, naming the op; None if none found."""
    for op in graph.ops:
        if op.op not in TFLM_OPS:
            return f"op {op.op} (#{op.index}) is not implemented in TFLite-Micro"
        if op.op == "CONCATENATION" and len(op.inputs) > TFLM_MAX_CONCAT_INPUTS:
            return (f"CONCATENATION (#{op.index}) with {len(op.inputs)} inputs: TFLite-Micro allows "
                    f"{TFLM_MAX_CONCAT_INPUTS}")
        wdt = weight_dtype(graph, op)
        adt = act_dtype(graph, op)
        if op.macs and adt in _FLOAT and wdt in ("int8", "int4", "uint8"):
            return f"{op.op} (#{op.index}) is hybrid ({adt} activations, {wdt} weights): TFLite-Micro refuses it"
        if op.op == "DEQUANTIZE" and op.inputs and graph.tensor(op.inputs[0]).constant:
            return (f"DEQUANTIZE (#{op.index}) of constant {graph.tensor(op.inputs[0]).dtype} weights "
                    "(weight-only quantization): not supported correctly by TFLite-Micro")
        if op.macs and adt == "int16" and len(op.inputs) > 2 and op.inputs[2] >= 0 \
                and graph.tensor(op.inputs[2]).dtype == "int32":
            return f"{op.op} (#{op.index}) has int16 activations with int32 bias: TFLite-Micro computes wrong outputs"
    return None


def _ceil(n: int, a: int) -> int:
    return (n + a - 1) // a * a
