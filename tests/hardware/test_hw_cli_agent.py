"""CLI sub-commands (called directly and through argparse) and the device agent over real HTTP."""

from __future__ import annotations

import argparse
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from nas.cli.hardware import register
from nas.hardware import agent, load_profile, price


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    register(p.add_subparsers())
    return p


def test_devices_lists_every_profile(capsys: pytest.CaptureFixture[str]) -> None:
    ns = _parser().parse_args(["devices"])
    assert ns.func(ns) == 0
    out = capsys.readouterr().out
    for name in ("rp2040", "nucleo-l4r5zi", "pi-5", "host"):
        assert name in out


def test_profile_one_device_table_and_json(tmp_path: Path, mlperf_models: dict[str, bytes],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "kws.tflite"
    f.write_bytes(mlperf_models["kws_ref_model"])
    ns = _parser().parse_args(["profile", str(f), "--device", "nucleo-l4r5zi"])
    assert ns.func(ns) == 0
    out = capsys.readouterr().out
    assert "DEPTHWISE_CONV_2D" in out and "share" in out and "cmsis-nn" in out
    ns = _parser().parse_args(["profile", str(f), "--device", "rp2040", "--json"])
    assert ns.func(ns) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["device"] == "rp2040" and d["deployable"] and d["layers"]


def test_profile_all_one_row_per_profile(tmp_path: Path, mlperf_models: dict[str, bytes],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "ad.tflite"
    f.write_bytes(mlperf_models["ad01_int8"])
    ns = _parser().parse_args(["profile", str(f), "--device", "all"])
    assert ns.func(ns) == 0
    out = capsys.readouterr().out
    assert "nucleo-h743zi" in out and "pi-zero-2w" in out and "measured" in out


def test_profile_unknown_device_lists_available(tmp_path: Path, mlperf_models: dict[str, bytes],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "ad.tflite"
    f.write_bytes(mlperf_models["ad01_int8"])
    ns = _parser().parse_args(["profile", str(f), "--device", "toaster"])
    assert ns.func(ns) == 2
    err = capsys.readouterr().err
    assert "toaster" in err and "nucleo-l4r5zi" in err


def test_agent_subcommand_registered() -> None:
    ns = _parser().parse_args(["agent", "--port", "0", "--token", "t"])
    assert ns.host == "127.0.0.1" and ns.token == "t" and callable(ns.func)


@pytest.fixture()
def agent_url() -> Iterator[str]:
    server = agent.make_server("127.0.0.1", 0, token="secret", max_bytes=2 << 20)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _post(url: str, body: bytes, token: str | None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method="POST")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_agent_round_trip(agent_url: str, mlperf_models: dict[str, bytes]) -> None:
    data = mlperf_models["kws_ref_model"]
    status, body = _post(agent_url + "/profile?budget_s=0.05", data, "secret")
    assert status == 200 and body["latency_ms_median"] > 0 and body["runs"] >= 5 and body["runtime"]
    assert _post(agent_url + "/profile", data, None)[0] == 401
    assert _post(agent_url + "/profile", data, "wrong")[0] == 401
    assert _post(agent_url + "/profile", b"x" * (3 << 20), "secret")[0] == 413
    assert _post(agent_url + "/profile", b"garbage!" * 8, "secret")[0] == 422


def test_price_uses_agent_and_falls_back(agent_url: str, mlperf_models: dict[str, bytes],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAS_TEST_AGENT_TOKEN", "secret")
    pi = replace(load_profile("pi-4"), agent_url=agent_url, agent_token_env="NAS_TEST_AGENT_TOKEN")
    r = price(mlperf_models["ad01_int8"], pi)
    assert r.latency_source == "measured" and r.details["measurement"]["runs"] >= 5
    assert abs(sum(la.ms for la in r.layers) - r.latency_ms) < 1e-6 * max(1.0, r.latency_ms)
    dead = replace(pi, agent_url="http://127.0.0.1:9")  # discard port: nothing listens
    r2 = price(mlperf_models["ad01_int8"], dead)
    assert r2.latency_source == "estimated" and "agent_error" in r2.details


def test_agent_module_is_standalone() -> None:
    """The agent file must run on a Pi with numpy + a TFLite interpreter only."""
    src = Path(agent.__file__).read_text()
    top = [ln for ln in src.splitlines() if ln.startswith(("import ", "from "))]
    assert not any("nas" in ln.split()[1] or "torch" in ln for ln in top), top
