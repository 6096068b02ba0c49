"""Price a model on a Cortex-M + Ethos-U profile: vela's estimate for the NPU, the CPU model for the rest.

Latency = vela's NPU cycles / NPU clock + the CPU cycle model over the ops vela left on the CPU
(:func:`nas.hardware.mcu.estimate_ops` on vela's rewritten graph) + one dispatch per ETHOSU op and the
per-invoke cost. RAM = the TFLM arena of vela's rewritten graph (its NPU scratch tensor, which holds
the NPU's feature maps, planned with the CPU ops' tensors by the 32-bit planner) + runtime and driver
RAM. Flash = vela's ``.tflite`` (encoded weights + command stream) + runtime, driver and the CPU ops'
kernel code. Every figure is an estimate; the NPU latency is vela's own (``estimated (vela)``).
"""

from __future__ import annotations

from typing import Any

from nas.hardware import mcu
from nas.hardware.arena import tflm_refusal
from nas.hardware.ethosu import ETHOSU_OP, VelaResult, compile_for_npu
from nas.hardware.graph import Graph, read_graph
from nas.hardware.kernels import classify
from nas.hardware.planner import Buffer, align_up, greedy_plan, lifetimes, tail_bytes_32bit
from nas.hardware.profiles import HardwareProfile, NpuConfig
from nas.hardware.report import CostReport, LayerCost, Source

KB = 1024.0
DEFAULT_OP_CODE_KB = 6.0


def price_npu(data: bytes, graph: Graph, profile: HardwareProfile) -> CostReport:
    """The network's cost on ``profile`` (which has an ``npu``); vela failing is a reason, not an error."""
    npu = profile.npu
    assert npu is not None  # the caller dispatches on it
    vela = compile_for_npu(data, npu)
    reason = tflm_refusal(data, graph)
    if not vela.ok:
        return CostReport(device=profile.name, deployable=False, latency_ms=0.0, ram_kb=0.0, flash_kb=0.0,
                          arena_kb=0.0, macs=graph.macs, params=graph.params, reason=vela.message,
                          details={"npu": {"accelerator": npu.accelerator, "error": vela.message}})
    vgraph = read_graph(vela.tflite)
    cpu_ops = [op for op in vgraph.ops if op.op != ETHOSU_OP]
    n_npu_calls = len(vgraph.ops) - len(cpu_ops)
    estimates = [e for e in mcu.estimate_ops(vgraph, profile) if e.op.op != ETHOSU_OP]
    cpu_cycles = sum(e.cycles for e in estimates)
    overhead = profile.coef("invoke") * profile.coef("mem_factor", 1.0) + n_npu_calls * profile.coef("dispatch")
    npu_ms = vela.cycles / (npu.clock_mhz * 1e3)
    cpu_ms = (cpu_cycles + overhead) / (profile.clock_mhz * 1e3)
    latency_ms = npu_ms + cpu_ms

    # RAM: TFLM arena of the rewritten graph (the NPU scratch tensor is one of its tensors).
    variant = profile.kernel_variant if profile.kernels == "cmsis-nn" else "c"
    choices = {op.index: classify(vgraph, op, variant) for op in cpu_ops}
    scratch = {i: [c.scratch_bytes] for i, c in choices.items() if c.scratch_bytes and profile.kernels == "cmsis-nn"}
    plan = greedy_plan(_with_npu_scratch(vgraph, lifetimes(vgraph, scratch)))
    tail = tail_bytes_32bit(vgraph, n_scratch=len(scratch), mve=variant == "mve")
    arena_bytes = plan.head_bytes + tail
    ram = arena_bytes + (profile.runtime_ram_kb + npu.driver_ram_kb) * KB
    cpu_types = sorted({op.op for op in cpu_ops})
    flash = align_up(len(vela.tflite)) + (profile.runtime_code_kb + npu.driver_code_kb) * KB
    flash += KB * sum(profile.op_code_kb.get(op, DEFAULT_OP_CODE_KB) for op in cpu_types)

    layers = _layers(graph, vgraph, vela, estimates, npu, profile, latency_ms)
    on_npu = sum(1 for la in layers if la.kernel.startswith("npu"))
    details: dict[str, Any] = {
        "runtime": f"tflm + ethos-u driver + {profile.kernels} ({profile.kernel_variant}) for CPU ops",
        "model_ms": latency_ms, "arena_head_bytes": plan.head_bytes, "arena_tail_bytes": tail,
        "npu": {"accelerator": npu.accelerator, "system_config": npu.system_config, "memory_mode": npu.memory_mode,
                "clock_mhz": npu.clock_mhz, "vela_version": vela.version, "npu_cycles": vela.cycles,
                "npu_ms": npu_ms, "cpu_ms": cpu_ms, "vela_sram_kb": vela.sram_bytes / KB,
                "vela_flash_kb": vela.flash_bytes / KB, "ops_on_npu": on_npu, "ops_on_cpu": len(layers) - on_npu,
                "cpu_ops": [f"{la.op} (#{la.index})" for la in layers if not la.kernel.startswith("npu")],
                "ethosu_calls": n_npu_calls, "vela_tflite_bytes": len(vela.tflite), "source": npu.source}}
    source: Source = "estimated (vela)" if n_npu_calls else "estimated"
    return CostReport(
        device=profile.name, deployable=reason is None, latency_ms=latency_ms, ram_kb=ram / KB, flash_kb=flash / KB,
        arena_kb=arena_bytes / KB, macs=graph.macs, params=graph.params, latency_source=source,
        ram_source="estimated", flash_source="estimated", reason=reason, layers=layers, details=details)


def _with_npu_scratch(vgraph: Graph, bufs: list[Buffer]) -> list[Buffer]:
    """Add the ETHOSU ops' scratch tensors (inputs no op produces) as live during their op."""
    planned = {b.id for b in bufs}
    out = list(bufs)
    for scope, op in enumerate(vgraph.ops, start=1):
        if op.op != ETHOSU_OP:
            continue
        for t in dict.fromkeys(op.inputs):
            ti = vgraph.tensor(t) if t >= 0 else None
            if ti is not None and not ti.constant and t not in planned and t not in vgraph.inputs:
                out.append(Buffer(t, align_up(ti.nbytes), scope, scope))
                planned.add(t)
    return out


def _layers(graph: Graph, vgraph: Graph, vela: VelaResult, cpu_estimates: list[mcu.OpEstimate], npu: NpuConfig,
            profile: HardwareProfile, total_ms: float) -> tuple[LayerCost, ...]:
    """One row per op of the original graph: on the NPU (vela's cycles) or on the CPU (the cycle model).

    vela's per-layer rows are named by the output tensor of the op they implement; rows of an op vela
    split into several NPU operations (softmax) carry internal names and are given to the next row
    whose name matches an original op. CPU ops are recognised by their output tensor's name."""
    out_name = {graph.tensor(op.outputs[0]).name: op for op in graph.ops if op.outputs}
    cpu_by_name = {vgraph.tensor(e.op.outputs[0]).name: e for e in cpu_estimates if e.op.outputs}
    npu_cycles: dict[int, float] = {}
    pending = 0.0
    last = None
    for row in vela.layers:
        pending += row.cycles
        op = out_name.get(row.name)
        if op is not None:
            npu_cycles[op.index] = npu_cycles.get(op.index, 0.0) + pending
            pending, last = 0.0, op.index
    if pending and last is not None:
        npu_cycles[last] += pending
    rows = []
    for op in graph.ops:
        t = graph.tensor(op.outputs[0]) if op.outputs else None
        shape = "x".join(str(d) for d in t.shape) if t else ""
        dtype = t.dtype if t else ""
        est = cpu_by_name.get(t.name) if t else None
        if est is not None:
            ms = est.cycles / (profile.clock_mhz * 1e3)
            rows.append(LayerCost(op.index, op.op, shape, est.choice.dtype, op.macs, round(est.cycles, 1), ms,
                                  ms / total_ms if total_ms else 0.0, f"cpu: {est.choice.label}",
                                  est.choice.scratch_bytes))
        else:
            cyc = npu_cycles.get(op.index, 0.0)
            ms = cyc / (npu.clock_mhz * 1e3)
            label = f"npu {npu.accelerator} (vela)" if cyc else f"npu {npu.accelerator} (vela: fused or removed)"
            rows.append(LayerCost(op.index, op.op, shape, dtype, op.macs, round(cyc, 1), ms,
                                  ms / total_ms if total_ms else 0.0, label, 0))
    return tuple(rows)
