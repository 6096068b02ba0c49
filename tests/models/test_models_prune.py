"""torch-pruning (nas.compress.prune_model) on every family x activation x head: channels are
removed for real and the pruned model still runs. Regression: a shared-slope PReLU before the
``time`` head made torch-pruning mis-count the classifier's inputs."""

from __future__ import annotations

import warnings

import pytest
import torch

from nas.candidate import ArchConfig
from nas.compress import prune_model
from nas.models import FAMILIES, build_model, family_params
from nas.models.layers import ACTIVATIONS

SHAPE = (16, 32)
CASES = [(fam, act, head) for fam in sorted(FAMILIES)
         for act in (sorted(ACTIVATIONS) if "activation_fn" in family_params(fam) else [None])
         for head in (["time", "global"] if "head" in family_params(fam) else [None])]


@pytest.mark.parametrize("family,act,head", CASES)
def test_prune_half_keeps_the_model_running(family, act, head):
    kw = {k: v for k, v in (("activation_fn", act), ("head", head)) if v is not None}
    if family in ("lstm", "gru"):
        kw["n_layers"] = 2
    model = build_model(ArchConfig.of(family, **kw), SHAPE, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = prune_model(model, 0.5)
    assert result.params_after < 0.8 * result.params_before, result
    with torch.no_grad():
        assert model.eval()(torch.randn(2, *SHAPE)).shape == (2, 5)
