"""Structured pruning removes channels for real: the exported file gets smaller, cheaper and leaner."""

import pytest
import torch

from nas.candidate import ArchConfig
from nas.compress import CRITERIA, prune_model
from nas.deploy import export_tflite
from nas.errors import ConfigError
from nas.hardware import measure_arena, read_graph
from nas.models import build_model, count_params

SHAPE, CLASSES = (16, 32), 8


def _model(family="cnn", **kw):
    torch.manual_seed(0)
    return build_model(ArchConfig.of(family, **kw), SHAPE, CLASSES)


def test_ratio_half_shrinks_the_exported_cnn():
    files = {}
    for ratio in (0.0, 0.5):
        model = _model("cnn", channels=16, n_blocks=2)
        prune_model(model, ratio, "l1")
        files[ratio] = export_tflite(model, 8)
    g0, g5 = read_graph(files[0.0]), read_graph(files[0.5])
    a0, a5 = measure_arena(files[0.0]), measure_arena(files[0.5])
    assert a0.ok and a5.ok
    assert g5.params < 0.6 * g0.params  # both conv layers lose half their filters
    assert g5.macs < 0.6 * g0.macs
    assert a5.total_bytes < a0.total_bytes  # TFLM's own allocator: less RAM
    assert len(files[0.5]) < len(files[0.0])
    # the classifier keeps one output per class
    out = read_graph(files[0.5]).tensor(read_graph(files[0.5]).outputs[0])
    assert out.shape[-1] == CLASSES


@pytest.mark.parametrize("criterion", CRITERIA)
@pytest.mark.parametrize("family,kw", [("dscnn", {"channels": 16, "n_blocks": 1}),
                                       ("mlp", {"hidden": 32, "residual": "basic"})])
def test_every_criterion_removes_channels(family, kw, criterion, feats):
    model = _model(family, **kw)
    before = count_params(model)
    result = prune_model(model, 0.5, criterion, data=feats.split("train"))
    assert result.params_after == count_params(model) < before
    assert result.macs_after < result.macs_before
    assert model(torch.zeros(3, *SHAPE)).shape == (3, CLASSES)


def test_criteria_rank_channels_differently(feats):
    """Not all criteria are the same ranking: pruned weights differ between l1 and fpgm."""
    kept = {}
    for criterion in ("l1", "fpgm", "taylor"):
        model = _model("cnn", channels=16, n_blocks=1)
        full = model.body.stack[0].weight.detach().clone()
        prune_model(model, 0.5, criterion, data=feats.split("train"))
        w = model.body.stack[0].weight.detach()
        kept[criterion] = tuple(int((full == w[i]).all(dim=(1, 2, 3)).nonzero()[0]) for i in range(len(w)))
    assert len(set(kept.values())) > 1, kept


def test_bad_criteria_say_what_to_do():
    with pytest.raises(ConfigError, match="one of"):
        prune_model(_model(), 0.5, "l3")
    with pytest.raises(ConfigError, match="needs training data"):
        prune_model(_model(), 0.5, "taylor")
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        prune_model(_model(), 1.0, "l1")
