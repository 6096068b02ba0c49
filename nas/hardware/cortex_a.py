"""Cortex-A (Raspberry Pi) latency: roofline per op with efficiency factors (COST_MODEL.md §4.3).

``t_op = max(MACs / (mac_per_cycle * f_clk * eff_class * n_eff), bytes / BW) + t0_op`` and
``t0_invoke`` per inference. ``mac_per_cycle`` is the core's sustained SIMD MAC rate for fp32 or int8
(XNNPACK QS8); efficiencies are lower for depthwise and batch-1 FC. Small models are modelled on one
thread because thread sync costs more than it saves on tiny layers.
"""

from __future__ import annotations

from nas.hardware.graph import Graph
from nas.hardware.kernels import act_dtype
from nas.hardware.profiles import HardwareProfile
from nas.hardware.report import LayerCost

_EFF = {"CONV_2D": "eff_conv", "DEPTHWISE_CONV_2D": "eff_dw", "FULLY_CONNECTED": "eff_fc",
        "BATCH_MATMUL": "eff_fc", "TRANSPOSE_CONV": "eff_conv"}
#: Above this many MACs an op is worth splitting across threads (XNNPACK's pthreadpool).
_THREAD_MIN_MACS = 2_000_000


def estimate(graph: Graph, profile: HardwareProfile) -> tuple[float, tuple[LayerCost, ...]]:
    """(model latency in ms, per-layer rows) on a Cortex-A profile."""
    f_hz = profile.clock_mhz * 1e6
    bw = profile.coef("bw_gbs") * 1e9
    t0 = profile.coef("t0_op_us") * 1e-6
    threads = profile.coef("threads", 1.0)
    rows: list[tuple[int, str, str, str, int, float, str]] = []
    for op in graph.ops:
        dt = act_dtype(graph, op)
        quant = dt in ("int8", "uint8", "int16")
        mpc = profile.coef("mac_per_cycle_int8" if quant else "mac_per_cycle_fp32")
        n_eff = threads if op.macs >= _THREAD_MIN_MACS else 1.0
        if op.macs:
            eff = profile.coef(_EFF.get(op.op, "eff_conv"))
            t_compute = op.macs / (mpc * f_hz * eff * n_eff)
            kernel = f"{'xnnpack qs8' if quant else 'xnnpack f32'} {op.op.lower()}"
        else:
            t_compute = op.out_elems / (profile.coef("elem_per_cycle") * f_hz)
            kernel = f"elementwise {op.op.lower()}"
        t_mem = (op.act_bytes + op.weight_bytes) / bw
        t = max(t_compute, t_mem) + t0
        out_t = graph.tensor(op.outputs[0]) if op.outputs else None
        shape = "x".join(str(d) for d in out_t.shape) if out_t else ""
        rows.append((op.index, op.op, shape, dt, op.macs, t, kernel))
    total_s = sum(r[5] for r in rows) + profile.coef("t0_invoke_us") * 1e-6
    layers = tuple(LayerCost(index=i, op=name, shape=shape, dtype=dt, macs=macs, cycles=round(t * f_hz, 1),
                             ms=t * 1e3, share=t / total_s if total_s else 0.0, kernel=kernel)
                   for i, name, shape, dt, macs, t, kernel in rows)
    return total_s * 1e3, layers


def scale_layers(layers: tuple[LayerCost, ...], total_ms: float, note: str) -> tuple[LayerCost, ...]:
    """Rescale estimated rows so they add up to a measured total (keeps the estimated split)."""
    est = sum(la.ms for la in layers)
    if est <= 0:
        return layers
    k = total_ms / est
    return tuple(LayerCost(index=la.index, op=la.op, shape=la.shape, dtype=la.dtype, macs=la.macs,
                           cycles=la.cycles * k, ms=la.ms * k, share=la.ms * k / total_ms,
                           kernel=f"{la.kernel} ({note})", scratch_bytes=la.scratch_bytes)
                 for la in layers)
