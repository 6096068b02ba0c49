"""Deployability is a result: a model TFLite-Micro refuses is priced as not deployable on
microcontroller profiles, with TFLM's reason, and still counts on Raspberry Pi profiles."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nas.candidate import ArchConfig, Candidate, FrontendConfig, TrainConfig
from nas.data import FeatureCache
from nas.deploy import export_tflite
from nas.hardware import load_profile, price
from nas.models import AudioClassifier, build_model
from nas.pipeline import TrialContext, run_trial

SHAPE = (16, 24)
LSTM_SHAPE = (16, 12)  # 12 steps: already more than the 10 inputs TFLM's CONCATENATION takes


class _TorchLSTM(nn.Module):
    """``nn.LSTM`` as litert-torch sees it: unrolled, every step concatenated."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(LSTM_SHAPE[0], 16, batch_first=True)
        self.fc = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x.transpose(1, 2))  # (B, T, H)
        return self.fc(out[:, -1])


def test_torch_lstm_is_not_deployable_on_mcu_but_counts_on_a_pi():
    tfl = export_tflite(AudioClassifier(_TorchLSTM(), "lstm", LSTM_SHAPE, 3).eval(), 32)
    mcu = price(tfl, load_profile("nucleo-l4r5zi"))
    pi = price(tfl, load_profile("pi-4"))
    assert not mcu.deployable
    assert "CONCATENATION" in mcu.reason and "12 inputs" in mcu.reason, mcu.reason
    assert pi.deployable and pi.latency_ms > 0, pi.reason


def test_the_lstm_family_is_deployable_on_mcu():
    model = build_model(ArchConfig.of("lstm", hidden=16, frame_stride=4), SHAPE, 3).eval()
    report = price(export_tflite(model, 8), load_profile("nucleo-l4r5zi"))
    assert report.deployable, report.reason
    assert report.arena_kb > 0 and report.ram_kb < 320


@pytest.mark.slow
def test_trial_records_mcu_refusal_with_reason_and_counts_on_the_pi(small_dataset, tmp_path):
    """A GELU transformer: TFLite-Micro has no GELU kernel. Targeting a Pi, the trial is ok and its
    microcontroller report says why it cannot run there."""
    arch = ArchConfig.of("transformer", d_model=16, n_heads=2, frame_stride=4, activation_fn="gelu")
    cand = Candidate(FrontendConfig(n_mels=16, hop_ms=32), arch,
                     TrainConfig(epochs=1, finetune_epochs=1), bits=8)
    ctx = TrialContext(small_dataset, FeatureCache(tmp_path / "cache"),
                       (load_profile("pi-4"), load_profile("nucleo-l4r5zi")))
    result = run_trial(cand, ctx)
    assert result.status == "ok", result.reason
    assert result.costs["pi-4"].deployable
    mcu = result.costs["nucleo-l4r5zi"]
    assert not mcu.deployable and "GELU" in mcu.reason
    assert result.tflm_max_abs_diff is None  # TFLM could not load it: no agreement figure
