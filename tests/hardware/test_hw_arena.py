"""The planner port reproduces TFLite-Micro's own arena head on the MLPerf Tiny models."""

from __future__ import annotations

from nas.hardware import measure_arena, read_graph
from nas.hardware.kernels import classify
from nas.hardware.planner import greedy_plan, lifetimes, tail_bytes_32bit

# 32-bit heads measured under QEMU with TFLM + CMSIS-NN (COST_MODEL.md §1.10): pure C / DSP / MVE.
QEMU_HEADS = {"ad01_int8": (768, 768, 768), "kws_ref_model": (16000, 16000, 20464),
              "pretrainedResnet_quant": (49728, 49728, 49728), "vww_96_int8": (73728, 73728, 73728)}
QEMU_TAILS_DSP = {"ad01_int8": 1764, "kws_ref_model": 6900, "pretrainedResnet_quant": 5348, "vww_96_int8": 27060}


def test_planner_port_equals_tflm_head(mlperf_models: dict[str, bytes]) -> None:
    for name, data in mlperf_models.items():
        arena = measure_arena(data)
        assert arena.ok, arena.message
        assert greedy_plan(lifetimes(read_graph(data))).head_bytes == arena.head_bytes, name
        assert arena.total_bytes == arena.head_bytes + arena.tail_bytes


def test_planner_with_cmsis_scratch_matches_qemu_heads(mlperf_models: dict[str, bytes]) -> None:
    for name, heads in QEMU_HEADS.items():
        g = read_graph(mlperf_models[name])
        for variant, expected in zip(("c", "dsp", "mve"), heads, strict=True):
            scratch = {op.index: [classify(g, op, variant).scratch_bytes] for op in g.ops}
            assert greedy_plan(lifetimes(g, scratch)).head_bytes == expected, (name, variant)


def test_tail_formula_within_ten_percent(mlperf_models: dict[str, bytes]) -> None:
    for name, tail in QEMU_TAILS_DSP.items():
        g = read_graph(mlperf_models[name])
        n_scratch = sum(1 for op in g.ops if classify(g, op, "dsp").scratch_bytes)
        assert abs(tail_bytes_32bit(g, n_scratch=n_scratch, mve=False) - tail) <= 0.1 * tail, name


def test_tflm_failure_is_a_result_not_an_exception() -> None:
    r = measure_arena(b"not a flatbuffer at all" * 4)
    assert not r.ok and r.message
