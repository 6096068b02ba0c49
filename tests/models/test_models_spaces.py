"""Shipped spaces build: every sampled candidate gives a model that runs on its frontend's shape."""

from __future__ import annotations

import optuna
import pytest
import torch

from nas.models import build_model, count_params
from nas.space import list_spaces


@pytest.mark.parametrize("space", list_spaces(), ids=lambda s: s.name)
def test_sampled_candidates_build_and_run(space):
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(3))
    for _ in range(12):
        cand = space.sample(study.ask())
        shape = cand.frontend.feature_shape
        model = build_model(cand.arch, shape, 5).eval()
        with torch.no_grad():
            out = model(torch.randn(2, *shape))
        assert out.shape == (2, 5), cand.describe()
        assert count_params(model) > 0
