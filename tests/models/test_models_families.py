"""Every family: build, train one step, prune, export float and int8, run in LiteRT and TFLite-Micro.

Real backends throughout (litert-torch, ai-edge-quantizer, LiteRT, the tflite-micro runtime):
the claim a family makes about TFLite-Micro (:func:`nas.models.tflm_claim`) is checked against
TFLM's own allocator.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from nas.candidate import ArchConfig
from nas.compress import prune_model
from nas.deploy import LiteRTRunner, TFLMRunner, export_tflite
from nas.errors import NotDeployableError
from nas.hardware.arena import measure_arena
from nas.models import FAMILIES, build_model, count_params, tflm_claim

SHAPE = (16, 32)  # (features, frames): small, so seven families convert in well under a minute
N_CLASSES = 4

# Small settings per family (defaults otherwise); every FAMILIES entry must appear here.
SMALL = {
    "cnn": dict(n_blocks=2, channels=8),
    "dscnn": dict(n_blocks=1, channels=8),
    "rescnn": dict(n_blocks=2, channels=8, residual="basic", activation_fn="prelu"),
    "mlp": dict(hidden=16, n_layers=1, residual="bottleneck"),
    "lstm": dict(hidden=16, frame_stride=4),
    "gru": dict(hidden=16, frame_stride=4, n_layers=2),
    "transformer": dict(d_model=16, n_heads=2, frame_stride=4, activation_fn="quick_gelu"),
}


def test_every_registered_family_is_covered():
    assert set(SMALL) == set(FAMILIES)


def _train_one_step(model: torch.nn.Module, x: torch.Tensor) -> float:
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = torch.nn.functional.cross_entropy(model(x), torch.arange(len(x)) % N_CLASSES)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss)


@pytest.mark.parametrize("family", sorted(SMALL))
def test_family_trains_prunes_exports_and_runs(family):
    torch.manual_seed(0)
    arch = ArchConfig.of(family, **SMALL[family])
    model = build_model(arch, SHAPE, N_CLASSES)
    x = torch.randn(8, *SHAPE)
    assert np.isfinite(_train_one_step(model, x))
    model.eval()
    xs = x[:4].numpy()

    # float file: LiteRT computes what torch computes
    fb = export_tflite(model, 32)
    with torch.no_grad():
        ref = model(x[:4]).numpy()
    np.testing.assert_allclose(LiteRTRunner(fb).predict(xs), ref, atol=1e-3)

    # structured pruning removes parameters for real and the pruned model still exports
    before = count_params(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch-pruning warns about the transformer's position table
        pr = prune_model(model, 0.5)
    model.eval()
    assert count_params(model) < before and pr.params_after < pr.params_before
    q = export_tflite(model, 8, x.numpy())
    runner = LiteRTRunner(q)
    assert runner.input_dtype == np.int8
    assert runner.predict(xs).shape == (4, N_CLASSES)

    # TFLite-Micro: the family's claim matches what TFLM's allocator says, float and int8
    assert tflm_claim(arch) is None
    for tfl in (fb, q):
        arena = measure_arena(tfl)
        assert arena.ok, arena.message
        assert arena.total_bytes > 0
        diff = np.abs(TFLMRunner(tfl).predict(xs) - LiteRTRunner(tfl).predict(xs)).max()
        assert diff < 0.05, diff  # same file, two runtimes: equal up to kernel rounding


def test_gelu_is_claimed_and_measured_not_deployable_on_tflm():
    arch = ArchConfig.of("transformer", d_model=16, n_heads=2, frame_stride=4, activation_fn="gelu")
    assert "GELU" in tflm_claim(arch)
    tfl = export_tflite(build_model(arch, SHAPE, N_CLASSES).eval(), 32)
    assert LiteRTRunner(tfl).predict(np.zeros((1, *SHAPE), np.float32)).shape == (1, N_CLASSES)
    assert not measure_arena(tfl).ok and "GELU" in measure_arena(tfl).message
    with pytest.raises(NotDeployableError):
        TFLMRunner(tfl)


@pytest.mark.parametrize("family", ["lstm", "gru"])
def test_cell_loop_matches_torch_reference_cells(family):
    """The hand-written loop is a real LSTM/GRU: with torch's weights copied in, outputs agree."""
    torch.manual_seed(1)
    model = build_model(ArchConfig.of(family, hidden=8, frame_stride=2), SHAPE, N_CLASSES).eval()
    body = model.body
    cell = body.cells[0]
    n_in = SHAPE[0] * 2
    ref = (torch.nn.LSTMCell if family == "lstm" else torch.nn.GRUCell)(n_in, 8)
    H = 8
    with torch.no_grad():
        for g, lin in enumerate(cell.gates.xh):  # torch's gate order: LSTM i, f, g, o; GRU r, z (n below)
            rows = slice(g * H, (g + 1) * H)
            lin.weight.copy_(torch.cat([ref.weight_ih[rows], ref.weight_hh[rows]], 1))
            lin.bias.copy_(ref.bias_ih[rows] + ref.bias_hh[rows])
        if family == "gru":
            cell.x_n.weight.copy_(ref.weight_ih[2 * H:]), cell.x_n.bias.copy_(ref.bias_ih[2 * H:])
            cell.h_n.weight.copy_(ref.weight_hh[2 * H:]), cell.h_n.bias.copy_(ref.bias_hh[2 * H:])
        x = torch.randn(3, *SHAPE)
        steps = x.transpose(1, 2).reshape(3, SHAPE[1] // 2, n_in)  # 2 frames stacked per step
        h = torch.zeros(3, H)
        c = torch.zeros(3, H)
        for t in range(steps.shape[1]):
            if family == "lstm":
                h, c = ref(steps[:, t], (h, c))
            else:
                h = ref(steps[:, t], h)
        torch.testing.assert_close(model(x), body.classifier(h), atol=1e-5, rtol=1e-4)
