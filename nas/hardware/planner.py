"""Python port of TFLite-Micro's tensor lifetimes, GreedyMemoryPlanner and persistent tail (32-bit).

Why a port: the host ``tflite-micro`` runtime uses reference kernels (no CMSIS-NN scratch buffers)
and 64-bit structs. Re-running the planner with the scratch buffers of the target's kernel variant
(pure C / DSP / MVE) gives the Cortex-M head exactly (COST_MODEL.md §1.3-1.4, §1.10: all 12 measured
32-bit heads reproduced); the tail comes from the fitted 32-bit formula of §1.6.
Sources: tensorflow/tflite-micro ``micro_allocation_info.cc``, ``greedy_memory_planner.cc``,
``micro_allocator.cc``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nas.hardware.graph import Graph

ALIGN = 16


@dataclass(frozen=True)
class Buffer:
    """A planned buffer: ``id`` = tensor index, scratch buffers numbered after all tensors."""

    id: int
    size: int  # already aligned to 16 bytes
    first: int
    last: int


@dataclass(frozen=True)
class Plan:
    head_bytes: int
    offsets: tuple[tuple[int, int], ...]  # (buffer id, offset)
    activation_floor_bytes: int  # max over time of live bytes (no planner can do better)


def align_up(n: int, a: int = ALIGN) -> int:
    return (n + a - 1) // a * a


def lifetimes(graph: Graph, scratch: Mapping[int, Sequence[int]] | None = None) -> list[Buffer]:
    """TFLM's ``MarkAllocationLifetimes`` for subgraph 0 plus per-op scratch buffers.

    Args:
        scratch: op index -> sizes of the scratch buffers that op requests.
    """
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for t in graph.inputs:
        first[t] = last[t] = 0
    scope = 0
    scratch_bufs: list[tuple[int, int]] = []  # (size, scope)
    for op in graph.ops:
        scope += 1
        for t in op.outputs:
            first.setdefault(t, scope)
        for t in op.inputs:
            if t >= 0:
                last[t] = scope
        for t in op.outputs:
            last[t] = scope
        for size in (scratch or {}).get(op.index, ()):
            if size > 0:
                scratch_bufs.append((size, scope))
    for t in graph.outputs:
        last[t] = scope
    bufs = []
    for ti in graph.tensors:
        if ti.constant or ti.variable or ti.nbytes == 0 or ti.index not in first:
            continue
        bufs.append(Buffer(ti.index, align_up(ti.nbytes), first[ti.index], last.get(ti.index, first[ti.index])))
    n = len(graph.tensors)
    for k, (size, sc) in enumerate(scratch_bufs):
        bufs.append(Buffer(n + k, align_up(size), sc, sc))
    return bufs


def greedy_plan(buffers: Sequence[Buffer]) -> Plan:
    """TFLM's GreedyMemoryPlanner: largest first, ties in *descending* id, lowest fitting offset."""
    order = sorted(buffers, key=lambda b: (-b.size, -b.id))
    placed: list[tuple[int, Buffer]] = []  # (offset, buffer), kept sorted by offset
    for buf in order:
        candidate = 0
        for off, other in placed:
            if other.first > buf.last or buf.first > other.last:
                continue  # not alive at the same time
            if off - candidate >= buf.size:
                break  # gap before this buffer is big enough
            candidate = max(candidate, off + other.size)
        placed.append((candidate, buf))
        placed.sort(key=lambda x: x[0])
    head = max((off + b.size for off, b in placed), default=0)
    return Plan(head, tuple((b.id, off) for off, b in placed), _floor(buffers))


def _floor(buffers: Sequence[Buffer]) -> int:
    if not buffers:
        return 0
    end = max(b.last for b in buffers)
    return max(sum(b.size for b in buffers if b.first <= s <= b.last) for s in range(end + 1))


def tail_bytes_32bit(graph: Graph, *, n_scratch: int, mve: bool) -> int:
    """Persistent tail of a 32-bit Cortex-M build (COST_MODEL.md §1.6 fitted formula, within ~±6 %)."""
    n_ops = len(graph.ops)
    per_channel = 0
    fc_out = 0
    for op in graph.ops:
        if not op.outputs:
            continue
        c_out = graph.tensor(op.outputs[0]).shape[-1] if graph.tensor(op.outputs[0]).shape else 1
        w = graph.tensor(op.inputs[1]) if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
        if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D") and _quantized(graph, op.inputs[0]):
            per_channel += c_out
        elif op.op == "FULLY_CONNECTED":
            if w is not None and w.per_channel:
                per_channel += c_out
            fc_out += c_out
    variables = sum(t.nbytes for t in graph.tensors if t.variable)
    tail = 200 + 12 * len(graph.tensors) + (32 + 88) * n_ops + 8 * per_channel + 4 * n_scratch + 104
    if mve:
        tail += 4 * fc_out
    return tail + variables


def temp_init_bytes_32bit(graph: Graph, n_planned: int, n_scratch: int) -> int:
    """Init-time temporaries that must fit besides the tail (COST_MODEL.md §1.8)."""
    return 24 * (len(graph.tensors) + n_scratch) + 40 * n_planned + 12 * (n_scratch + 12)


def _quantized(graph: Graph, t: int) -> bool:
    return t >= 0 and graph.tensor(t).dtype in ("int8", "int16", "uint8")
