"""price() on the MLPerf Tiny models and on tiny models made on the fly."""

from __future__ import annotations

import time

import pytest

from nas.candidate import FrontendConfig
from nas.hardware import CostReport, list_profiles, load_profile, price, price_all, read_graph
from nas.hardware.ethosu import vela_available
from nas.hardware.planner import greedy_plan, lifetimes


def test_every_mlperf_model_on_every_profile(mlperf_models: dict[str, bytes]) -> None:
    """No crash; all MLPerf models fit every profile (they were built for such boards); RAM lies between
    the activation floor (max live tensor bytes) and the board budget; a per-layer table sums up."""
    profiles = list_profiles()
    for name, data in mlperf_models.items():
        floor_kb = greedy_plan(lifetimes(read_graph(data))).activation_floor_bytes / 1024
        for r in price_all(data, profiles):
            p = next(p for p in profiles if p.name == r.device)
            if p.npu and not vela_available():
                continue  # tests/hardware/test_hw_npu.py skips with the reason
            assert isinstance(r, CostReport)
            assert r.deployable, (name, r.device, r.reason)
            assert floor_kb <= r.ram_kb <= p.sram_kb, (name, r.device)
            # vela re-encodes (compresses) the weights: NPU profiles store its file, not the original
            stored = r.details["npu"]["vela_tflite_bytes"] if p.npu else len(data)
            assert r.flash_kb <= p.flash_kb and r.flash_kb * 1024 > stored
            assert r.latency_ms > 0 and r.layers
            assert sum(la.share for la in r.layers) <= 1.0 + 1e-6
            if p.kind == "mcu":
                assert r.arena_kb >= floor_kb
            if p.kind == "host":
                assert r.latency_source == "measured"


def test_all_profiles_fast_after_first_call(mlperf_models: dict[str, bytes]) -> None:
    profiles = list_profiles()
    data = mlperf_models["kws_ref_model"]
    price_all(data, profiles)
    t = time.perf_counter()
    price_all(data, profiles)
    assert time.perf_counter() - t < 0.5


def test_float_and_int8_models_on_m4(tiny_models: dict[str, bytes]) -> None:
    p = load_profile("nucleo-l4r5zi")
    f32, i8 = price(tiny_models["f32"], p), price(tiny_models["i8"], p)
    assert f32.deployable and i8.deployable, (f32.reason, i8.reason)
    assert any(la.dtype == "float32" and "reference" in la.kernel for la in f32.layers)
    assert any("cmsis-nn" in la.kernel for la in i8.layers)
    # float reference kernels are several times slower than CMSIS-NN int8, and the arena is larger
    assert f32.latency_ms > 2 * i8.latency_ms
    assert f32.arena_kb > i8.arena_kb


def test_concat_over_ten_inputs_not_deployable_on_tflm(tiny_models: dict[str, bytes]) -> None:
    r = price(tiny_models["cat"], load_profile("nucleo-l4r5zi"))
    assert not r.deployable and "CONCATENATION" in r.reason
    host = price(tiny_models["cat"], load_profile("host"))
    assert host.deployable and host.latency_source == "measured"


def test_frontend_adds_time_and_ram(mlperf_models: dict[str, bytes]) -> None:
    p = load_profile("nucleo-l4r5zi")
    data = mlperf_models["kws_ref_model"]
    bare = price(data, p)
    fe = FrontendConfig(kind="mfcc", n_mels=40, n_mfcc=10, win_ms=40, hop_ms=20)
    with_fe = price(data, p, frontend=fe)
    assert with_fe.latency_ms > bare.latency_ms and with_fe.ram_kb > bare.ram_kb
    assert with_fe.details["frontend_ms"] == pytest.approx(with_fe.latency_ms - bare.latency_ms)


def test_price_accepts_path(tmp_path, mlperf_models: dict[str, bytes]) -> None:
    f = tmp_path / "m.tflite"
    f.write_bytes(mlperf_models["ad01_int8"])
    assert price(f, load_profile("rp2040")).deployable
