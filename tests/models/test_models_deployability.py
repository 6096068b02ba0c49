"""Deployability is a result: a model TFLite-Micro refuses is priced as not deployable on
microcontroller profiles, with TFLM's reason, and still counts on Raspberry Pi profiles."""

from __future__ import annotations

import torch
from torch import nn

from nas.candidate import ArchConfig
from nas.deploy import export_tflite
from nas.hardware import load_profile, price
from nas.models import AudioClassifier, build_model

SHAPE = (16, 24)


class _TorchLSTM(nn.Module):
    """``nn.LSTM`` as litert-torch sees it: unrolled, every step concatenated."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(SHAPE[0], 16, batch_first=True)
        self.fc = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x.transpose(1, 2))  # (B, T, H)
        return self.fc(out[:, -1])


def test_torch_lstm_is_not_deployable_on_mcu_but_counts_on_a_pi():
    tfl = export_tflite(AudioClassifier(_TorchLSTM(), "lstm", SHAPE, 3).eval(), 32)
    mcu = price(tfl, load_profile("nucleo-l4r5zi"))
    pi = price(tfl, load_profile("pi-4"))
    assert not mcu.deployable
    assert "CONCATENATION" in mcu.reason and "10" in mcu.reason, mcu.reason
    assert pi.deployable and pi.latency_ms > 0, pi.reason


def test_the_lstm_family_is_deployable_on_mcu():
    model = build_model(ArchConfig.of("lstm", hidden=16, frame_stride=4), SHAPE, 3).eval()
    report = price(export_tflite(model, 8), load_profile("nucleo-l4r5zi"))
    assert report.deployable, report.reason
    assert report.arena_kb > 0 and report.ram_kb < 320
