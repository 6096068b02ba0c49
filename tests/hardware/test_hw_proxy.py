"""The first rung's cost proxy orders candidates as the real export's figures do (it ranks, never reports)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import optuna
import pytest
import torch

from nas.deploy import export_tflite
from nas.hardware import load_profile, price
from nas.hardware.proxy import PROXY_MARGIN, ProxyCost, clearly_within, proxy_cost
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
    for name in ("latency_ms", "ram_kb", "flash_kb"):  # what lets a candidate skip the precheck's export
        worst = max(getattr(r, name) / getattr(p, name) for p, r in zip(proxies, real, strict=True))
        assert worst < PROXY_MARGIN, f"{name}: the file needs {worst:.2f}x the proxy's figure"


def test_a_candidate_near_a_budget_is_not_clearly_within_it():
    profile = load_profile("nucleo-l4r5zi")
    small = ProxyCost(macs=10**6, params=10**4, latency_ms=5.0, ram_kb=20.0, flash_kb=100.0, energy_uj=100.0,
                      power_mw=0.1)
    assert clearly_within(small, profile)
    assert not clearly_within(small, profile, max_latency_ms=12.0)  # 3 x 5 ms is over a 12 ms deadline
    assert not clearly_within(small, profile, max_energy_uj=250.0)
    assert not clearly_within(replace(small, ram_kb=profile.sram_kb / 2), profile)
    assert not clearly_within(replace(small, flash_kb=profile.flash_kb / 2.5), profile)
