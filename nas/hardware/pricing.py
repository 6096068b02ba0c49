"""Price a ``.tflite`` on hardware profiles: the one entry point the rest of the service calls.

Dispatch by profile kind: ``mcu`` -> TFLite-Micro arena + 32-bit planner + CMSIS-NN cycle model;
``cpu`` -> roofline estimate (or a device agent's measurement); ``host`` -> LiteRT measured here.
Graph parsing, TFLM arena and host timings are cached by content hash, so pricing one model on every
profile after the first call costs only the arithmetic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nas.candidate import FrontendConfig
from nas.errors import ExportError
from nas.hardware import cortex_a, mcu
from nas.hardware.agent_client import profile_on_agent
from nas.hardware.arena import measure_arena
from nas.hardware.energy import DEFAULT_RATE_HZ, estimate_energy
from nas.hardware.frontend import frontend_cost
from nas.hardware.graph import Graph, read_graph
from nas.hardware.host import measure_host
from nas.hardware.kernels import classify, tflm_unsupported
from nas.hardware.planner import align_up, greedy_plan, lifetimes, tail_bytes_32bit, temp_init_bytes_32bit
from nas.hardware.profiles import HardwareProfile
from nas.hardware.report import CostReport, Source

logger = logging.getLogger(__name__)
KB = 1024.0
#: Kernel code added per op type when a profile's ``op_code_kb`` does not list it (COST_MODEL.md §3.2).
DEFAULT_OP_CODE_KB = 6.0


def _bytes_of(tflite: bytes | Path | str) -> bytes:
    if isinstance(tflite, (bytes, bytearray, memoryview)):
        return bytes(tflite)
    try:
        return Path(tflite).read_bytes()
    except OSError as e:
        raise ExportError(f"cannot read .tflite file {tflite}: {e}") from e


def price(tflite: bytes | Path, profile: HardwareProfile, *, frontend: FrontendConfig | None = None,
          inference_rate_hz: float = DEFAULT_RATE_HZ) -> CostReport:
    """Latency, RAM, flash and (MCU) energy of one model on one profile (see :class:`CostReport`);
    the average power is taken at ``inference_rate_hz``."""
    data = _bytes_of(tflite)
    graph = read_graph(data)
    if profile.kind == "mcu":
        return _price_mcu(data, graph, profile, frontend, inference_rate_hz)
    return _price_cpu(data, graph, profile, frontend)


def price_all(tflite: bytes | Path, profiles: Iterable[HardwareProfile], *,
              frontend: FrontendConfig | None = None, inference_rate_hz: float = DEFAULT_RATE_HZ) -> list[CostReport]:
    data = _bytes_of(tflite)
    return [price(data, p, frontend=frontend, inference_rate_hz=inference_rate_hz) for p in profiles]


def _price_mcu(data: bytes, graph: Graph, profile: HardwareProfile, fe: FrontendConfig | None,
               rate_hz: float = DEFAULT_RATE_HZ) -> CostReport:
    details: dict[str, Any] = {"runtime": f"tflm + {profile.kernels} ({profile.kernel_variant})"}
    arena = measure_arena(data)
    reason = None if arena.ok else f"TFLite-Micro refused the model: {arena.message}"
    static = tflm_unsupported(graph)
    if static and reason is None:
        reason = static
    elif static:
        reason = f"{static} ({reason})"
    # 32-bit arena: re-plan with the scratch buffers of this build's kernel variant.
    variant = profile.kernel_variant if profile.kernels == "cmsis-nn" else "c"
    choices = {op.index: classify(graph, op, variant) for op in graph.ops}
    scratch = {i: [c.scratch_bytes] for i, c in choices.items() if c.scratch_bytes and profile.kernels == "cmsis-nn"}
    bufs = lifetimes(graph, scratch)
    plan = greedy_plan(bufs)
    n_scratch = len(scratch)
    tail = tail_bytes_32bit(graph, n_scratch=n_scratch, mve=variant == "mve")
    temp = temp_init_bytes_32bit(graph, len(bufs), n_scratch)
    arena_bytes = tail + max(plan.head_bytes, temp)
    details.update(arena_head_bytes=plan.head_bytes, arena_tail_bytes=tail, arena_temp_init_bytes=temp,
                   scratch_bytes=sum(c.scratch_bytes for c in choices.values()) if scratch else 0,
                   activation_floor_bytes=plan.activation_floor_bytes,
                   tflm_host_arena={"ok": arena.ok, "head": arena.head_bytes, "tail": arena.tail_bytes,
                                    "total": arena.total_bytes})
    # Latency.
    estimates = mcu.estimate_ops(graph, profile)
    invoke = profile.coef("invoke") * profile.coef("mem_factor", 1.0)
    model_cycles = sum(e.cycles for e in estimates) + invoke
    layers = mcu.layers_from(graph, estimates, profile.clock_mhz, model_cycles)
    latency_ms = model_cycles / (profile.clock_mhz * 1e3)
    details["model_ms"] = latency_ms
    details["cycles_per_mac"] = model_cycles / graph.macs if graph.macs else None
    ram = arena_bytes + profile.runtime_ram_kb * KB
    flash = align_up(len(data)) + profile.runtime_code_kb * KB
    flash += KB * sum(profile.op_code_kb.get(op, DEFAULT_OP_CODE_KB) for op in graph.op_types)
    frontend_ms = 0.0
    if fe is not None:
        fc = frontend_cost(fe, profile)
        latency_ms += fc.ms
        frontend_ms = fc.ms
        ram += fc.ram_bytes
        flash += fc.flash_bytes
        details.update(fc.details)
    energy = estimate_energy(profile, details["model_ms"], frontend_ms, rate_hz=rate_hz)
    if reason is None and ram > profile.sram_kb * KB:
        reason = f"needs {ram / KB:.1f} KB RAM, {profile.name} has {profile.sram_kb:g} KB"
    if reason is None and flash > profile.flash_kb * KB:
        reason = f"needs {flash / KB:.1f} KB flash, {profile.name} has {profile.flash_kb:g} KB"
    return CostReport(
        device=profile.name, deployable=reason is None, latency_ms=latency_ms, ram_kb=ram / KB,
        flash_kb=flash / KB, arena_kb=arena_bytes / KB, macs=graph.macs, params=graph.params,
        latency_source="estimated", ram_source="estimated", flash_source="estimated", reason=reason,
        layers=layers, details=details, energy=energy)


def _price_cpu(data: bytes, graph: Graph, profile: HardwareProfile, fe: FrontendConfig | None) -> CostReport:
    details: dict[str, Any] = {"runtime": f"litert + {profile.kernels}"}
    est_ms, layers = cortex_a.estimate(graph, profile)
    source: Source = "estimated"
    latency_ms, reason = est_ms, None
    ram_kb = (len(data) + _activation_bytes(graph)) / KB + profile.runtime_ram_kb
    ram_source: Source = "estimated"
    details["estimated_ms"] = est_ms
    measured: dict[str, Any] | None = None
    if profile.kind == "host":
        t = measure_host(data)
        if t.ok:
            measured = {"latency_ms_median": t.median_ms, "latency_ms_p90": t.p90_ms, "runs": t.runs,
                        "peak_mem_kb": t.peak_kb, "runtime": t.runtime}
        else:
            reason = t.message
    elif profile.agent_url:
        measured, why = profile_on_agent(data, profile)
        if measured is None:
            details["agent_error"] = f"{why}; latency is the estimate"
            logger.warning("%s: %s", profile.name, why)
    if measured is not None:
        latency_ms, source = float(measured["latency_ms_median"]), "measured"
        details["measurement"] = measured
        layers = cortex_a.scale_layers(layers, latency_ms, "estimated split of the measured total")
        # The resident-memory growth of one run includes one-time library set-up (XNNPACK, first
        # model of a process), so it is shown, not used: RAM stays the model + activations estimate.
        details["measured_mem_delta_kb"] = measured.get("peak_mem_kb")
    flash_kb = len(data) / KB + profile.runtime_code_kb
    if fe is not None:
        fc = frontend_cost(fe, profile)
        latency_ms += fc.ms
        ram_kb += fc.ram_bytes / KB
        details.update(fc.details)
    if reason is None and ram_kb > profile.sram_kb:
        reason = f"needs {ram_kb:.0f} KB RAM, {profile.name} has {profile.sram_kb:g} KB"
    return CostReport(
        device=profile.name, deployable=reason is None, latency_ms=latency_ms, ram_kb=ram_kb, flash_kb=flash_kb,
        arena_kb=0.0, macs=graph.macs, params=graph.params, latency_source=source, ram_source=ram_source,
        flash_source="estimated", reason=reason, layers=layers, details=details)


def _activation_bytes(graph: Graph) -> int:
    """LiteRT's arena planner also reuses memory; the greedy plan is a close stand-in."""
    return greedy_plan(lifetimes(graph)).head_bytes
