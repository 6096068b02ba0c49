"""``nas study export --format c``: the C array is the .tflite byte for byte, the C compiles against
TFLite-Micro's declarations (a minimal stand-in shipped here: no TFLM headers on these machines), and
features computed from manifest.json with plain numpy reproduce the project's features."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nas.candidate import FrontendConfig
from nas.hardware import read_graph
from nas.study.tables import make_engine, make_sessionmaker
from tests.api.conftest import seed_tiny_study

# Declarations a TFLM application sees, reduced to what model_data.h uses. The method names are
# TFLite-Micro's (tensorflow/lite/micro/micro_mutable_op_resolver.h); a wrong name fails to compile.
_TFLM_STUB = """
#pragma once
typedef enum { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
namespace tflite {
template <unsigned int tOpCount>
class MicroMutableOpResolver {
 public:
#define NAS_OP(name) TfLiteStatus name() { return kTfLiteOk; }
  NAS_OP(AddAbs) NAS_OP(AddAdd) NAS_OP(AddAveragePool2D) NAS_OP(AddBatchMatMul) NAS_OP(AddConcatenation)
  NAS_OP(AddConv2D) NAS_OP(AddDepthwiseConv2D) NAS_OP(AddDequantize) NAS_OP(AddEthosU) NAS_OP(AddExp)
  NAS_OP(AddExpandDims) NAS_OP(AddFullyConnected) NAS_OP(AddGather) NAS_OP(AddHardSwish)
  NAS_OP(AddLeakyRelu) NAS_OP(AddLogistic) NAS_OP(AddMaxPool2D) NAS_OP(AddMaximum) NAS_OP(AddMean)
  NAS_OP(AddMinimum) NAS_OP(AddMul) NAS_OP(AddPack) NAS_OP(AddPad) NAS_OP(AddPrelu) NAS_OP(AddQuantize)
  NAS_OP(AddReduceMax) NAS_OP(AddRelu) NAS_OP(AddRelu6) NAS_OP(AddReshape) NAS_OP(AddRsqrt)
  NAS_OP(AddSlice) NAS_OP(AddSoftmax) NAS_OP(AddSplit) NAS_OP(AddSquaredDifference) NAS_OP(AddSqueeze)
  NAS_OP(AddStridedSlice) NAS_OP(AddSub) NAS_OP(AddSum) NAS_OP(AddTanh) NAS_OP(AddTranspose)
  NAS_OP(AddUnpack)
#undef NAS_OP
};
}  // namespace tflite
"""
_MAIN = """
#include "model_data.h"
#include <cstdint>
alignas(16) static uint8_t tensor_arena[kTensorArenaSize];
int main() {
  static ModelOpResolver resolver;
  static_assert(kNumOps > 0, "at least one op");
  if (RegisterModelOps(resolver) != kTfLiteOk) return 1;
  return (g_model_data[4] == 'T' && g_model_data_len > 0 && tensor_arena[0] == 0) ? 0 : 2;
}
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory, tiny_space_path):
    return seed_tiny_study(tmp_path_factory.mktemp("fw"), tiny_space_path, name="fw-tiny")


def _trials(url: str) -> list[tuple[int, int, int]]:
    from sqlalchemy import select

    from nas.study.tables import ArtifactRow, TrialRow

    with make_sessionmaker(make_engine(url))() as s:
        q = select(TrialRow.id, TrialRow.number, TrialRow.bits).join(ArtifactRow, ArtifactRow.trial_id == TrialRow.id)
        return [tuple(r) for r in s.execute(q).all()]  # type: ignore[misc]


def _export(study, number: int, out: Path, device: str | None = None) -> dict:
    from nas.service.firmware import export_firmware

    with make_sessionmaker(make_engine(study.url))() as s:
        return export_firmware(s, study.study, number, out, device=device, cache_dir=study.root / "cache").manifest


def _array_bytes(source: str) -> bytes:
    body = source.split("g_model_data[] = {", 1)[1].split("};", 1)[0]
    return bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body))


def _syntax_check(d: Path) -> None:
    cxx = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no host C++ compiler")
    inc = d / "stub" / "tensorflow" / "lite" / "micro"
    inc.mkdir(parents=True, exist_ok=True)
    (inc / "micro_mutable_op_resolver.h").write_text(_TFLM_STUB)
    (d / "main.cc").write_text(_MAIN)
    for f in ("model_data.cc", "main.cc"):
        r = subprocess.run([cxx, "-std=c++17", "-fsyntax-only", "-Wall", "-Werror", f"-I{d / 'stub'}", f"-I{d}",
                            str(d / f)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


def test_c_export_bytes_compile_and_resolver(study, tmp_path) -> None:
    from nas import service

    for _, number, bits in _trials(study.url)[:2]:
        out = tmp_path / f"t{number}"
        m = _export(study, number, out)
        with make_sessionmaker(make_engine(study.url))() as s:
            tflite = service.export_model(s, study.study, number)
        src = (out / "model_data.cc").read_text()
        assert _array_bytes(src) == tflite == (out / "model.tflite").read_bytes()
        assert "alignas(16) const unsigned char g_model_data[]" in src
        assert f"g_model_data_len = {len(tflite)};" in src
        hdr = (out / "model_data.h").read_text()
        ops = read_graph(tflite).op_types
        assert f"constexpr int kNumOps = {len(ops)};" in hdr
        assert src.count("resolver.Add") == len(ops) == len(m["c"]["ops"])
        arena = int(re.search(r"kTensorArenaSize = (\d+);", hdr).group(1))
        assert arena >= m["device"]["arena_kb"] * 1024 * 1.2 - 16 and arena % 16 == 0
        _syntax_check(out)
        assert m["device"]["name"] == "nucleo-l4r5zi" and m["bits"] == bits
        fig = m["device"]["figures"]["latency_ms"]
        assert fig["total"] == pytest.approx(fig["frontend"] + fig["network"]) and fig["frontend"] > 0
        e = m["device"]["energy"]  # issue 19: energy per inference and average power, estimated
        assert e["source"] == "estimated" and e["energy_uj"] == pytest.approx(e["active_mw"] * fig["total"])
        ef = m["device"]["figures"]["energy_uj"]
        assert ef["total"] == pytest.approx(ef["frontend"] + ef["network"]) and ef["total_source"] == "estimated"
        assert e["inference_rate_hz"] == 1.0 and e["power_mw"] > 0
        assert m["input"]["dtype"] == ("int8" if bits == 8 else "float32")


def _htk_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def features_from_manifest(wave: np.ndarray, m: dict) -> np.ndarray:
    """What device code does, written from manifest.json alone with numpy (no torch, no nas)."""
    fe, norm = m["frontend"], m["normalization"]
    n_fft, win, hop = fe["n_fft"], fe["win_length"], fe["hop_length"]
    k = np.arange(win)
    window = np.zeros(n_fft)
    left = (n_fft - win) // 2
    window[left:left + win] = 0.5 - 0.5 * np.cos(2 * np.pi * k / win)  # periodic Hann
    x = np.pad(wave.astype(np.float64), fe["stft"]["pad"], mode=fe["stft"]["pad_mode"])
    n_frames = 1 + (len(x) - n_fft) // hop
    frames = np.stack([x[t * hop:t * hop + n_fft] * window for t in range(n_frames)])
    spec = np.fft.rfft(frames, axis=1)
    power = spec.real ** 2 + spec.imag ** 2  # (frames, bins)
    mel = fe["mel"]
    bins = np.arange(n_fft // 2 + 1) * fe["sample_rate"] / n_fft
    pts = np.linspace(_htk_mel(np.array(mel["f_min_hz"])), _htk_mel(np.array(mel["f_max_hz"])), mel["n_mels"] + 2)
    hz = 700.0 * (10 ** (pts / 2595.0) - 1.0)
    fb = np.zeros((len(bins), mel["n_mels"]))
    for j in range(mel["n_mels"]):
        lo, c, hi = hz[j], hz[j + 1], hz[j + 2]
        fb[:, j] = np.maximum(0, np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c)))
    feats = np.log(power @ fb + fe["log"]["offset"])  # (frames, n_mels)
    if fe["dct"]:
        n = mel["n_mels"]
        dct = np.cos(np.pi / n * (np.arange(n)[None, :] + 0.5) * np.arange(fe["dct"]["n_mfcc"])[:, None])
        dct[0] *= 1 / np.sqrt(2)
        feats = feats @ (dct * np.sqrt(2.0 / n)).T
    feats = feats.T  # (n_features, n_frames)
    if norm["mode"] == "global":
        feats = (feats - np.array(norm["mean"])[:, None]) / np.array(norm["std"])[:, None]
    elif norm["mode"] == "per_clip":
        feats = (feats - feats.mean()) / (feats.std() + norm["epsilon"])
    return feats


@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
def test_manifest_features_match_the_project(study, tmp_path, kind) -> None:
    import torch

    from nas.data import FeatureCache, get_source
    from nas.data.frontend import Frontend, normalize
    from nas.service.firmware import frontend_manifest

    _, number, _ = _trials(study.url)[0]
    m = _export(study, number, tmp_path)
    assert m["classes"] and len(m["classes"]) == m["output"]["shape"][-1]
    cfg = FrontendConfig(**{k: m["frontend"][k] for k in FrontendConfig.__dataclass_fields__})
    dataset = get_source("synthetic:160").load()
    feats = FeatureCache(study.root / "cache").features(dataset, cfg)
    # the stored constants are those of the training split the trial was trained on
    np.testing.assert_allclose(m["normalization"]["mean"], feats.norm_mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(m["normalization"]["std"], feats.norm_std, rtol=1e-5, atol=1e-5)
    if kind == "mfcc":  # the tiny space samples log-mel only: the writer's MFCC section, per-clip normalization
        cfg = FrontendConfig(**{**cfg.to_dict(), "kind": "mfcc", "n_mfcc": 10, "normalization": "per_clip"})
        m = {**m, "frontend": frontend_manifest(cfg), "normalization": {"mode": "per_clip", "epsilon": 1e-5}}
    rng = np.random.default_rng(0)
    t = np.arange(cfg.n_samples) / cfg.sample_rate
    wave = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    raw = Frontend(cfg)(torch.from_numpy(wave[None])).numpy()  # (1, F, T)
    if cfg.normalization == "global":
        ours = ((raw[0] - feats.norm_mean[:, None]) / feats.norm_std[:, None])
    else:
        ours = normalize(raw, np.array([0]), cfg.normalization)[0]
    theirs = features_from_manifest(wave, m)
    assert theirs.shape == ours.shape == tuple(m["frontend"][k] for k in ("n_features", "n_frames"))
    np.testing.assert_allclose(theirs, ours, rtol=1e-3, atol=2e-3)


def test_cli_export_c_and_errors(study, tmp_path) -> None:
    _, number, _ = _trials(study.url)[0]
    out = tmp_path / "fw"
    base = [sys.executable, "-m", "nas", "study", "export", study.study, "--db", study.url, "--trial", str(number)]
    r = subprocess.run([*base, "--format", "c", "-o", str(out), "--device", "nrf52840"], capture_output=True,
                       text=True, cwd=study.root)
    assert r.returncode == 0, r.stderr
    assert "kTensorArenaSize" in r.stdout and sorted(p.name for p in out.iterdir()) == [
        "manifest.json", "model.tflite", "model_data.cc", "model_data.h"]
    assert json.loads((out / "manifest.json").read_text())["device"]["name"] == "nrf52840"
    r = subprocess.run([*base, "--format", "c", "-o", str(out), "--device", "pi-4"], capture_output=True, text=True)
    assert r.returncode != 0 and "runs LiteRT" in r.stderr and "Traceback" not in r.stderr


def test_npu_export_holds_velas_model(study, tmp_path) -> None:
    pytest.importorskip("ethosu.vela")
    int8 = [n for _, n, b in _trials(study.url) if b == 8]
    if not int8:
        pytest.skip("the seeded study has no int8 trial")
    m = _export(study, int8[0], tmp_path, device="alif-e7-u55")
    assert "EthosU" in " ".join(m["c"]["resolver_calls"]) or m["device"]["npu"]["ops_on_npu"] == 0
    assert m["device"]["figures"]["latency_ms"]["network_source"] in ("estimated (vela)", "estimated")
    lat, e = m["device"]["figures"]["latency_ms"], m["device"]["energy"]
    assert e["source"] == "estimated" and e["energy_uj"] == pytest.approx(e["active_mw"] * lat["total"])
    assert _array_bytes((tmp_path / "model_data.cc").read_text()) == (tmp_path / "model.tflite").read_bytes()
    _syntax_check(tmp_path)


def test_api_firmware_zip_and_trial_page(study) -> None:
    import io
    import zipfile

    from fastapi.testclient import TestClient

    from nas.api import Settings, create_app

    trial_id, number, _ = _trials(study.url)[0]
    with TestClient(create_app(Settings(db_url=study.url, api_token="firmware-test-token-0123"))) as c:
        r = c.get(f"/api/trials/{trial_id}/firmware.zip", params={"device": "nrf52840"})
        assert r.status_code == 200, r.text
        z = zipfile.ZipFile(io.BytesIO(r.content))
        assert sorted(z.namelist()) == ["manifest.json", "model.tflite", "model_data.cc", "model_data.h"]
        assert json.loads(z.read("manifest.json"))["device"]["name"] == "nrf52840"
        r = c.get(f"/api/trials/{trial_id}/firmware.zip", params={"device": "pi-4"})
        assert r.status_code == 422 and "runs LiteRT" in r.json()["detail"]
        r = c.get(f"/api/trials/{trial_id}/firmware.zip", params={"device": "no-such-board"})
        assert r.status_code == 404
        page = c.get(f"/trials/{trial_id}").text
        assert f"/api/trials/{trial_id}/firmware.zip?device=nucleo-l4r5zi" in page and "DSP " in page
        front = c.get(f"/api/studies/{study.study}/pareto").json()["points"]
        assert front and set(front[0]["split"]) == {"frontend", "network", "total"}
