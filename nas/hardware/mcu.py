"""Cortex-M latency: a per-op linear cycle model over CMSIS-NN kernel classes.

``cycles(op) = mem_factor * coef[class] * work(op) * dtype_factor + dispatch`` where ``work`` is MACs,
output or input elements, or bytes depending on the class (:mod:`nas.hardware.kernels`), plus a
per-invoke cost (COST_MODEL.md §2.5). Coefficients come from the profile (cycles on the core's
kernel variant, with sources); ``mem_factor`` absorbs the board's flash wait states, caches and
compiler, and is the figure fitted to published whole-model latencies.
"""

from __future__ import annotations

from dataclasses import dataclass

from nas.hardware.graph import Graph, OpInfo
from nas.hardware.kernels import KernelChoice, classify, weight_dtype
from nas.hardware.profiles import HardwareProfile
from nas.hardware.report import LayerCost


@dataclass(frozen=True)
class OpEstimate:
    op: OpInfo
    choice: KernelChoice
    cycles: float


def op_work(graph: Graph, op: OpInfo, unit: str) -> float:
    if unit == "mac":
        return float(op.macs)
    if unit == "in":
        return float(op.in_elems)
    if unit == "byte":
        return float(sum(graph.tensor(t).nbytes for t in op.outputs))
    return float(op.out_elems)


def estimate_ops(graph: Graph, profile: HardwareProfile) -> list[OpEstimate]:
    """Cycles of every op on ``profile`` (the per-invoke cost is not included)."""
    mem = profile.coef("mem_factor", 1.0)
    dispatch = profile.coef("dispatch")
    out = []
    for op in graph.ops:
        ch = classify(graph, op, profile.kernel_variant)
        coef = profile.coef(ch.cls)
        factor = 1.0
        if ch.dtype == "int16":
            factor *= profile.coef("int16_factor", 1.75)
        if weight_dtype(graph, op) == "int4":
            factor *= profile.coef("int4_factor", 1.2)
        if profile.kernels == "reference" and ch.unit == "mac" and not ch.cls.startswith("float"):
            factor *= profile.coef("ref_int8_factor", 10.0)
        if ch.cls.startswith("float") and not profile.fpu:
            factor *= profile.coef("softfloat_factor", 6.0)
        cycles = mem * coef * op_work(graph, op, ch.unit) * factor + dispatch
        out.append(OpEstimate(op, ch, cycles))
    return out


def layers_from(graph: Graph, estimates: list[OpEstimate], clock_mhz: float, total_cycles: float
                ) -> tuple[LayerCost, ...]:
    """Per-layer rows; ``share`` is relative to ``total_cycles`` (model incl. invoke, excl. frontend)."""
    rows = []
    for e in estimates:
        out_t = graph.tensor(e.op.outputs[0]) if e.op.outputs else None
        shape = "x".join(str(d) for d in out_t.shape) if out_t else ""
        rows.append(LayerCost(
            index=e.op.index, op=e.op.op, shape=shape, dtype=e.choice.dtype, macs=e.op.macs,
            cycles=round(e.cycles, 1), ms=e.cycles / (clock_mhz * 1e3),
            share=e.cycles / total_cycles if total_cycles else 0.0, kernel=e.choice.label,
            scratch_bytes=e.choice.scratch_bytes))
    return tuple(rows)
