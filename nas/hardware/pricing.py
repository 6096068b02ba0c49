"""Price a ``.tflite`` on hardware profiles: the one entry point the rest of the service calls.

Dispatch by profile kind: ``mcu`` -> TFLite-Micro arena + 32-bit planner + CMSIS-NN cycle model;
``cpu`` -> roofline estimate (or a device agent's measurement); ``host`` -> LiteRT measured here.
Graph parsing, TFLM arena and host timings are cached by content hash, so pricing one model on every
profile after the first call costs only the arithmetic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from nas.candidate import FrontendConfig
from nas.errors import ExportError
from nas.hardware import cortex_a, mcu
from nas.hardware.agent_client import profile_on_agent
from nas.hardware.arena import measure_arena, tflm_refusal
from nas.hardware.energy import DEFAULT_RATE_HZ, estimate_energy
from nas.hardware.frontend import frontend_cost
from nas.hardware.graph import Graph, read_graph
from nas.hardware.host import measure_host
from nas.hardware.kernels import classify
from nas.hardware.npu_pricing import price_npu
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
    """Latency, RAM, flash and (MCU) energy of one model on one profile (see :class:`CostReport`).

    Without ``frontend`` the figures are the network's alone; with it, the frontend's cost is added
    and kept beside the totals (``CostReport.frontend_*``). The average power is taken at
    ``inference_rate_hz``."""
    data = _bytes_of(tflite)
    graph = read_graph(data)
    if profile.kind == "mcu" and profile.npu is not None:
        report = price_npu(data, graph, profile)
        npu = report.details.get("npu", {})
        if "error" in npu:  # vela missing or failed: the CPU's figures, not deployable, with vela's words
            cpu = _price_mcu(data, graph, profile)
            report = replace(cpu, deployable=False, reason=report.reason, details={**cpu.details, "npu": npu})
    elif profile.kind == "mcu":
        report = _price_mcu(data, graph, profile)
    else:
        report = _price_cpu(data, graph, profile)
    report = _with_frontend(report, profile, frontend)
    if profile.kind == "mcu":  # energy of the network's time plus the frontend's (None without cost.active_mw)
        energy = estimate_energy(profile, report.latency_ms - report.frontend_ms, report.frontend_ms,
                                 rate_hz=inference_rate_hz)
        report = replace(report, energy=energy)
    return report


def _with_frontend(r: CostReport, profile: HardwareProfile, fe: FrontendConfig | None) -> CostReport:
    """Add the frontend's cost (flash only on microcontrollers), then check the board's budgets."""
    latency, ram_kb, flash_kb, details = r.latency_ms, r.ram_kb, r.flash_kb, dict(r.details)
    fe_ms = fe_ram = fe_flash = 0.0
    if fe is not None:
        fc = frontend_cost(fe, profile)
        fe_ms, fe_ram = fc.ms, fc.ram_bytes / KB
        fe_flash = fc.flash_bytes / KB if profile.kind == "mcu" else 0.0
        latency, ram_kb, flash_kb = latency + fe_ms, ram_kb + fe_ram, flash_kb + fe_flash
        details.update(fc.details)
    # flash is a budget on microcontrollers only (a Cortex-A board loads the model from storage)
    reason = r.reason or profile.memory_violation(ram_kb, flash_kb, check_flash=profile.kind == "mcu")
    return replace(r, deployable=reason is None, reason=reason, latency_ms=latency, ram_kb=ram_kb,
                   flash_kb=flash_kb, details=details, frontend_ms=fe_ms, frontend_ram_kb=fe_ram,
                   frontend_flash_kb=fe_flash)


def price_all(tflite: bytes | Path, profiles: Iterable[HardwareProfile], *,
              frontend: FrontendConfig | None = None, inference_rate_hz: float = DEFAULT_RATE_HZ) -> list[CostReport]:
    data = _bytes_of(tflite)
    return [price(data, p, frontend=frontend, inference_rate_hz=inference_rate_hz) for p in profiles]


def _price_mcu(data: bytes, graph: Graph, profile: HardwareProfile) -> CostReport:
    details: dict[str, Any] = {"runtime": f"tflm + {profile.kernels} ({profile.kernel_variant})"}
    arena = measure_arena(data)
    reason = tflm_refusal(data, graph)
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
    return CostReport(
        device=profile.name, deployable=reason is None, latency_ms=latency_ms, ram_kb=ram / KB,
        flash_kb=flash / KB, arena_kb=arena_bytes / KB, macs=graph.macs, params=graph.params,
        latency_source="estimated", ram_source="estimated", flash_source="estimated", reason=reason,
        layers=layers, details=details)


def _price_cpu(data: bytes, graph: Graph, profile: HardwareProfile) -> CostReport:
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
    return CostReport(
        device=profile.name, deployable=reason is None, latency_ms=latency_ms, ram_kb=ram_kb, flash_kb=flash_kb,
        arena_kb=0.0, macs=graph.macs, params=graph.params, latency_source=source, ram_source=ram_source,
        flash_source="estimated", reason=reason, layers=layers, details=details)


def _activation_bytes(graph: Graph) -> int:
    """LiteRT's arena planner also reuses memory; the greedy plan is a close stand-in."""
    return greedy_plan(lifetimes(graph)).head_bytes
