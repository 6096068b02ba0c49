"""Energy per inference and average power: the model's arithmetic, every MCU profile, the CLI."""

from __future__ import annotations

import json

import pytest

from nas.candidate import FrontendConfig
from nas.cli import main
from nas.hardware import CostReport, estimate_energy, list_profiles, load_profile, price
from tests.conftest import shared_dir

KWS = shared_dir() / "data" / "mlperf_tiny" / "kws_ref_model.tflite"
needs_models = pytest.mark.skipif(not KWS.exists(), reason=f"MLPerf Tiny models not found at {KWS}")


def test_energy_is_active_power_times_busy_time_plus_sleep_between():
    p = load_profile("nucleo-l4r5zi")
    active, sleep = p.coef("active_mw"), p.coef("sleep_mw")
    e = estimate_energy(p, model_ms=100.0, frontend_ms=20.0, rate_hz=2.0)
    assert e is not None and e.source == "estimated"
    assert e.energy_uj == pytest.approx(active * 120.0) and e.frontend_uj == pytest.approx(active * 20.0)
    assert e.duty == pytest.approx(0.24) and e.keeps_up
    assert e.power_mw == pytest.approx(2.0 * active * 120.0 / 1000 + sleep * 0.76)
    slow = e.at_rate(0.1)
    assert slow.energy_uj == e.energy_uj and slow.power_mw < e.power_mw
    assert slow.power_mw == pytest.approx(0.1 * active * 120.0 / 1000 + sleep * (1 - 0.012))
    # Past one inference per period the device cannot keep up: it runs flat out at active power.
    flat = e.at_rate(20.0)
    assert not flat.keeps_up and flat.duty == 1.0 and flat.power_mw == pytest.approx(active)


def test_every_mcu_profile_has_sourced_energy_coefficients_and_others_none():
    for p in list_profiles():
        e = estimate_energy(p, model_ms=10.0)
        if p.kind == "mcu":
            assert e is not None and e.active_mw > 0 and e.sleep_mw >= 0, p.name
            assert p.sources["cost.active_mw"] and p.sources["cost.sleep_mw"], p.name
            assert "estimate" in p.sources["cost.active_mw"] or "prior" in p.sources["cost.active_mw"]
        else:
            assert e is None, p.name


@needs_models
def test_price_reports_energy_on_mcus_and_it_survives_json():
    fe = FrontendConfig(n_mels=16, hop_ms=32)
    r = price(KWS, load_profile("nucleo-l4r5zi"), frontend=fe, inference_rate_hz=5.0)
    assert r.energy is not None and r.energy.inference_rate_hz == 5.0
    assert r.energy_uj == pytest.approx(r.energy.active_mw * r.latency_ms)  # model + frontend at active power
    assert r.energy.frontend_uj == pytest.approx(r.energy.active_mw * r.details["frontend_ms"])
    back = CostReport.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r and back.energy_uj == r.energy_uj
    assert back.at_rate(1.0).power_mw < r.power_mw
    assert price(KWS, load_profile("pi-4")).energy_uj is None


@needs_models
def test_nas_profile_prints_energy_per_inference(capsys):
    assert main(["profile", str(KWS), "--device", "nucleo-l4r5zi", "--inference-rate-hz", "2"]) == 0
    out = capsys.readouterr().out
    assert "uJ per inference (estimated; 41.2 mW active)" in out and "at 2 inference/s" in out
    assert main(["profile", str(KWS), "--device", "all"]) == 0
    table = capsys.readouterr().out
    assert "energy uJ" in table and "power mW" in table


def test_nas_profile_refuses_a_bad_rate(capsys):
    with pytest.raises(SystemExit) as e:
        main(["profile", "x.tflite", "--inference-rate-hz", "-1"])
    assert e.value.code == 2 and "must be > 0" in capsys.readouterr().err


@needs_models
def test_npu_profile_prices_energy_over_npu_cpu_and_frontend_time():
    pytest.importorskip("ethosu.vela")
    fe = FrontendConfig(n_mels=16, hop_ms=32)
    r = price(KWS, load_profile("alif-e7-u55"), frontend=fe)
    assert r.deployable and r.latency_source == "estimated (vela)" and r.energy is not None
    assert r.energy.source == "estimated" and r.energy.active_mw == load_profile("alif-e7-m55").coef("active_mw")
    assert r.energy_uj == pytest.approx(r.energy.active_mw * r.latency_ms)
    s = r.split()
    assert r.energy.frontend_uj > 0
    assert r.energy.frontend_uj == pytest.approx(r.energy.active_mw * s["frontend"]["latency_ms"])
    assert r.energy.model_uj == pytest.approx(r.energy.active_mw * s["network"]["latency_ms"])
    # the NPU runs the network in a fraction of the M55's time, so it costs a fraction of the energy
    m55 = price(KWS, load_profile("alif-e7-m55"), frontend=fe)
    assert m55.energy is not None and r.energy.model_uj < m55.energy.model_uj


@needs_models
def test_nas_profile_with_frontend_prints_split_and_energy(capsys, tmp_path):
    cand = tmp_path / "candidate.json"
    cand.write_text(json.dumps({"frontend": FrontendConfig(n_mels=16, hop_ms=32).to_dict()}))
    assert main(["profile", str(KWS), "--device", "nucleo-l4r5zi", "--frontend", str(cand)]) == 0
    out = capsys.readouterr().out
    assert "frontend (DSP)" in out and "network" in out and "uJ per inference" in out and "frontend " in out
    assert main(["profile", str(KWS), "--device", "all", "--frontend", str(cand)]) == 0
    table = capsys.readouterr().out
    assert "DSP ms" in table and "net ms" in table and "energy uJ" in table and "power mW" in table
    assert main(["profile", str(KWS), "--device", "nucleo-l4r5zi", "--frontend", str(cand), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["split"]["frontend"]["latency_ms"] > 0 and d["energy"]["frontend_uj"] > 0
