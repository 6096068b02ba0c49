"""The first rung's cost proxy orders candidates as the real export's figures do (it ranks, never reports)."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch

from nas.deploy import export_tflite
from nas.hardware import load_profile, price
from nas.hardware.proxy import proxy_cost
from nas.pipeline import _untrained
from nas.space import load_space

pytestmark = pytest.mark.slow


def _ranks(values: list[float]) -> np.ndarray:
    return np.argsort(np.argsort(values)).astype(float)


def spearman(a: list[float], b: list[float]) -> float:
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def test_proxy_orders_kws_candidates_like_their_int8_files():
    space, profile = load_space("kws"), load_profile("nucleo-l4r5zi")
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=3))
    proxies, real = [], []
    for _ in range(8):
        cand = space.sample(study.ask())
        shape = cand.frontend.feature_shape
        model = _untrained(cand, shape, 10)
        proxies.append(proxy_cost(model, torch.zeros(1, *shape), cand.bits, profile, cand.frontend))
        real.append(price(export_tflite(model, cand.bits, None), profile, frontend=cand.frontend))
    for name in ("latency_ms", "ram_kb", "flash_kb", "macs", "params"):
        rho = spearman([getattr(p, name) for p in proxies], [getattr(r, name) for r in real])
        print(name, round(rho, 3))
        assert rho >= 0.8, f"{name}: rank correlation {rho:.2f}"
