"""Fixtures of the hardware cost-model tests: the MLPerf Tiny models and tiny models made on the fly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MLPERF = ("ad01_int8", "kws_ref_model", "pretrainedResnet_quant", "str_ww_ref_model", "vww_96_int8")


def shared_dir() -> Path:
    env = os.environ.get("NAS_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared"


@pytest.fixture(scope="session")
def mlperf_models() -> dict[str, bytes]:
    d = shared_dir() / "data" / "mlperf_tiny"
    if not d.is_dir():
        pytest.skip(f"MLPerf Tiny models not found in {d} (set NAS_SHARED_DIR)")
    found = {m: (d / f"{m}.tflite").read_bytes() for m in MLPERF if (d / f"{m}.tflite").is_file()}
    if len(found) < len(MLPERF):
        pytest.skip(f"some MLPerf Tiny models missing in {d}: {sorted(set(MLPERF) - set(found))}")
    return found


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A float32 CNN, its int8 (static_wi8_ai8) version, and a 12-input CONCATENATION, via litert-torch."""
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
    litert_torch = pytest.importorskip("litert_torch")
    torch = pytest.importorskip("torch")
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = torch.nn.Conv2d(1, 8, 3, padding=1)
            self.c2 = torch.nn.Conv2d(8, 16, 3, padding=1)
            self.fc = torch.nn.Linear(16, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.relu(self.c2(torch.relu(self.c1(x))))
            return self.fc(x.mean((2, 3)))

    class Cat(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([x * float(i + 1) for i in range(12)], dim=1)

    d = tmp_path_factory.mktemp("tiny")
    f32 = d / "tiny_f32.tflite"
    litert_torch.convert(Net().eval(), (torch.randn(1, 1, 16, 10),)).export(str(f32))
    q = quantizer.Quantizer(str(f32))
    q.load_quantization_recipe(recipe.static_wi8_ai8())
    sig = Interpreter(str(f32)).get_signature_list()
    name = next(iter(sig))
    inp = sig[name]["inputs"][0]
    rng = np.random.default_rng(0)
    calib = {name: [{inp: rng.standard_normal((1, 1, 16, 10)).astype(np.float32)} for _ in range(4)]}
    i8 = d / "tiny_i8.tflite"
    q.quantize(q.calibrate(calib)).export_model(str(i8), overwrite=True)
    cat = d / "tiny_cat.tflite"
    litert_torch.convert(Cat().eval(), (torch.randn(1, 2),)).export(str(cat))
    return {"f32": f32.read_bytes(), "i8": i8.read_bytes(), "cat": cat.read_bytes()}
