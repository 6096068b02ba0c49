"""Cortex-M55 + Ethos-U55 profile: vela compiles the model, its estimate prices the NPU ops; the
frontend (DSP) / network split of every report."""

from __future__ import annotations

import pytest

from nas.candidate import FrontendConfig
from nas.errors import ConfigError
from nas.hardware import load_profile, price
from nas.hardware.profiles import _validate

pytest.importorskip("ethosu.vela", reason="ethos-u-vela is a dependency (requirements/runtime.lock)")


def test_kws_reference_runs_on_the_npu(mlperf_models: dict[str, bytes]) -> None:
    data = mlperf_models["kws_ref_model"]
    npu, cpu = price(data, load_profile("alif-e7-u55")), price(data, load_profile("alif-e7-m55"))
    assert npu.deployable, npu.reason
    assert npu.latency_source == "estimated (vela)"
    d = npu.details["npu"]
    assert d["accelerator"] == "ethos-u55-256" and d["npu_cycles"] > 0 and d["vela_sram_kb"] > 0
    assert d["ops_on_cpu"] == 0 and d["ops_on_npu"] == len(npu.layers)
    assert all(la.kernel.startswith("npu") for la in npu.layers)
    # the NPU's cycles are vela's own: the per-layer rows add up to them
    assert sum(la.cycles for la in npu.layers) == pytest.approx(d["npu_cycles"])
    assert npu.latency_ms == pytest.approx(d["npu_ms"] + d["cpu_ms"])
    assert npu.latency_ms < cpu.latency_ms / 10  # 256 MACs/cycle against the M55's Helium kernels
    assert npu.arena_kb * 1024 >= d["vela_sram_kb"] * 1024  # vela's scratch lives in the TFLM arena


def test_float_model_stays_on_the_cpu(tiny_models: dict[str, bytes]) -> None:
    """vela places no float op on the NPU: every op is priced by the CPU cycle model."""
    r = price(tiny_models["f32"], load_profile("alif-e7-u55"))
    assert r.deployable, r.reason
    assert r.latency_source == "estimated" and r.details["npu"]["ops_on_npu"] == 0
    assert all(la.kernel.startswith("cpu:") for la in r.layers)
    i8 = price(tiny_models["i8"], load_profile("alif-e7-u55"))
    assert i8.latency_source == "estimated (vela)" and i8.details["npu"]["ops_on_npu"] > 0
    assert i8.details["npu"]["ops_on_npu"] + i8.details["npu"]["ops_on_cpu"] == len(i8.layers)


def test_npu_block_is_validated() -> None:
    raw = _raw_profile()
    assert _validate(raw, "x.yaml").npu.clock_mhz == 400
    with pytest.raises(ConfigError, match="missing required key 'npu.system_config'"):
        _validate({**raw, "npu": {"accelerator": "ethos-u55-256"}}, "x.yaml")
    with pytest.raises(ConfigError, match="unknown key 'npu.macs'"):
        _validate({**raw, "npu": {**raw["npu"], "macs": 256}}, "x.yaml")


def _raw_profile() -> dict:
    from nas import yamlfile
    from nas.hardware.profiles import profiles_dir

    return dict(yamlfile.read(yamlfile.locate("alif-e7-u55", profiles_dir(), "hardware profile")))


def test_split_network_frontend_total(mlperf_models: dict[str, bytes]) -> None:
    data = mlperf_models["kws_ref_model"]
    fe = FrontendConfig(kind="mfcc", n_mels=40, n_mfcc=10, win_ms=40, hop_ms=20)
    for device in ("nucleo-l4r5zi", "alif-e7-u55", "pi-4"):
        bare, full = price(data, load_profile(device)), price(data, load_profile(device), frontend=fe)
        assert not bare.has_frontend and bare.split()["frontend"]["latency_ms"] == 0
        s = full.split()
        for k in ("latency_ms", "ram_kb", "flash_kb"):
            assert s["network"][k] == pytest.approx(getattr(bare, k)), (device, k)
            assert s["total"][k] == pytest.approx(s["network"][k] + s["frontend"][k])
        assert s["frontend"]["latency_ms"] > 0 and s["frontend"]["ram_kb"] > 0


def test_vela_failure_is_a_reason_with_cpu_figures(mlperf_models: dict[str, bytes], monkeypatch) -> None:
    from nas.hardware import ethosu

    monkeypatch.setattr(ethosu, "vela_available", lambda: False)
    ethosu._compile_cached.cache_clear()
    try:
        r = price(mlperf_models["ad01_int8"], load_profile("alif-e7-u55"))
    finally:
        ethosu._compile_cached.cache_clear()
    assert not r.deployable and "ethos-u-vela is not installed" in r.reason
    assert r.latency_ms > 0 and r.layers and r.details["npu"]["error"]
