"""Print conversion time, graph size and TFLite-Micro figures of every family (docs/models.md).

Run: ``PYTHONPATH=. python tests/models/bench_families.py`` (about two minutes on one core).
Input: 32 log-mel bands x 51 frames (1 s at 16 kHz, hop 20 ms), 8 classes, each family's defaults.
"""

from __future__ import annotations

import os
import time
import warnings

os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
warnings.simplefilter("ignore")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from nas.candidate import ArchConfig  # noqa: E402
from nas.deploy import export_tflite  # noqa: E402
from nas.hardware import load_profile, price  # noqa: E402
from nas.hardware.graph import read_graph  # noqa: E402
from nas.models import FAMILIES, AudioClassifier, build_model, count_params  # noqa: E402

SHAPE, CLASSES = (32, 51), 8


class TorchLSTM(nn.Module):
    def __init__(self, hidden: int = 32):
        super().__init__()
        self.rnn, self.fc = nn.LSTM(SHAPE[0], hidden, batch_first=True), nn.Linear(hidden, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.rnn(x.transpose(1, 2))[0][:, -1])


def row(name: str, model: AudioClassifier, mcu, pi) -> None:
    x = np.random.default_rng(0).standard_normal((64, *SHAPE)).astype(np.float32)
    for bits in (32, 8):
        t = time.perf_counter()
        try:
            tfl = export_tflite(model.eval(), bits, x)
        except Exception as e:  # report, keep going
            print(f"{name:<26} {bits:>3}  export failed: {str(e)[:80]}")
            continue
        sec = time.perf_counter() - t
        g, m, p = read_graph(tfl), price(tfl, mcu), price(tfl, pi)
        tflm = "yes" if m.deployable else f"no: {m.reason[:60]}"
        arena_kb = m.details["tflm_host_arena"]["total"] / 1024
        print(f"{name:<26} {bits:>3} {count_params(model):>7} {sec:>6.1f} {len(g.ops):>5} "
              f"{len(tfl) / 1024:>7.1f} {arena_kb:>8.1f} {m.latency_ms:>8.1f} {p.latency_ms:>7.2f}  {tflm}",
              flush=True)


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    mcu, pi = load_profile("nucleo-l4r5zi"), load_profile("pi-4")
    print(f"{'model':<26} {'bits':>3} {'params':>7} {'conv s':>6} {'ops':>5} {'file KB':>7} {'arena KB':>8} "
          f"{'M4 ms':>8} {'Pi4 ms':>7}  TFLM (M4)")
    for fam in FAMILIES:
        row(fam, build_model(ArchConfig.of(fam), SHAPE, CLASSES), mcu, pi)
    for stride in (2, 8):
        arch = ArchConfig.of("lstm", frame_stride=stride)
        row(f"lstm frame_stride={stride}", build_model(arch, SHAPE, CLASSES), mcu, pi)
    row("gru n_layers=2", build_model(ArchConfig.of("gru", n_layers=2), SHAPE, CLASSES), mcu, pi)
    gelu = ArchConfig.of("transformer", activation_fn="gelu")
    row("transformer gelu", build_model(gelu, SHAPE, CLASSES), mcu, pi)
    row("nn.LSTM (for comparison)", AudioClassifier(TorchLSTM(), "lstm", SHAPE, CLASSES), mcu, pi)


if __name__ == "__main__":
    main()
