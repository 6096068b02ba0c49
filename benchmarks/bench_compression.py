"""Compression benchmark: one DS-CNN on FSDD, prune ratio x bit-width, figures of the exported files.

Run: ``PYTHONPATH=. python benchmarks/bench_compression.py [--fsdd PATH] [--epochs 6] [--train-takes 20] [--qat]``

Trains one DS-CNN on the Free Spoken Digit Dataset (official split: takes 0-4 of every speaker are the
test set; takes 5-9 validation; training on the next ``--train-takes`` takes, 20 by default = 1200
clips, all 40 = 2400), prunes copies of it at 0, 0.25 and 0.5 (L1,
fine-tuned with distillation from the unpruned model), exports each at every offered bit-width (and
int8 with quantization-aware fine-tuning with ``--qat``), and prints one row per file: parameters and
MACs of the file's graph, ``.tflite`` bytes, the TFLite-Micro arena (TFLM's own allocator), the
accuracy of the file in LiteRT on the test split, and the TFLM-vs-LiteRT difference in output steps.
A few minutes on two cores.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nas.candidate import ArchConfig, FrontendConfig, TrainConfig
from nas.compress import BITS_OFFERED, prepare_qat, prune_model
from nas.data import AudioDataset, FeatureCache
from nas.data.base import content_fingerprint, make_summary
from nas.deploy import check_agreement, evaluate_file, export_qat_tflite, export_tflite
from nas.hardware import measure_arena, read_graph
from nas.models import build_model
from nas.train import Distillation, accuracy, predict, train

log = logging.getLogger("bench_compression")

FRONTEND = FrontendConfig(sample_rate=8000, clip_seconds=1.0, win_ms=32, hop_ms=20, n_mels=20)
ARCH = ArchConfig.of("dscnn", channels=24, n_blocks=2)
RATIOS = (0.0, 0.25, 0.5)


def _default_fsdd() -> Path:
    shared = Path(os.environ.get("NAS_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
    return shared / "data" / "fsdd" / "recordings"


def load_fsdd(root: Path, train_takes: int = 40) -> AudioDataset:
    """FSDD ``{digit}_{speaker}_{take}.wav`` with the official split (takes 0-4 test), takes 5-9 valid,
    takes 10 .. 10 + ``train_takes`` - 1 train."""
    # A local reader rather than the data stage's ``fsdd:`` source: the benchmark needs the official
    # split and a training subset, whatever that source's default split is.
    import soundfile as sf

    files = sorted(root.glob("*.wav"))
    if not files:
        sys.exit(f"no FSDD recordings in {root}: pass --fsdd PATH (the 'recordings' folder)")
    clips, labels, takes = [], [], []
    for f in files:
        digit, _, take = f.stem.split("_")
        wave, sr = sf.read(f, dtype="float32", always_2d=True)
        assert sr == 8000, f"{f}: {sr} Hz"
        clips.append(wave.mean(axis=1))
        labels.append(int(digit))
        takes.append(int(take))
    y, t = np.array(labels, np.int64), np.array(takes)
    splits = {"train": np.flatnonzero((t >= 10) & (t < 10 + train_takes)), "valid": np.flatnonzero((t >= 5) & (t < 10)),
              "test": np.flatnonzero(t < 5)}
    names = tuple(str(d) for d in range(10))
    return AudioDataset("fsdd", names, 8000, tuple(clips), y, splits,
                        content_fingerprint("fsdd-bench", train_takes, *[f.name for f in files], y),
                        make_summary("fsdd", names, y, splits))


def row(tfl: bytes, ratio: float, label: str, x_test: np.ndarray, y_test: np.ndarray, x_val: np.ndarray,
        float_acc: float) -> str:
    g = read_graph(tfl)
    arena = measure_arena(tfl)
    acc, _ = evaluate_file(tfl, x_test, y_test)
    agree = check_agreement(tfl, x_val[:32], strict=False)
    arena_kb = f"{arena.total_bytes / 1024:8.1f}" if arena.ok else "  refused"
    steps = f"{agree.max_steps:5.1f}" if agree.ran and agree.output_scale else f"{agree.max_abs_diff:5.0e}"
    return (f"{ratio:5.2f}  {label:>6}  {g.params:7d}  {g.macs:9d}  {len(tfl):8d}  {arena_kb}  {acc:7.3f}  "
            f"{float_acc:7.3f}  {steps}  {'yes' if agree.agree else 'NO'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fsdd", type=Path, default=_default_fsdd())
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--train-takes", type=int, default=20, help="takes per speaker and digit to train on (max 40)")
    ap.add_argument("--finetune-epochs", type=int, default=2)
    ap.add_argument("--qat", action="store_true", help="add an int8 row with quantization-aware fine-tuning")
    ap.add_argument("--cache", type=Path, default=Path(".nas_cache"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(max(1, (os.cpu_count() or 1)))
    t0 = time.perf_counter()

    feats = FeatureCache(args.cache).features(load_fsdd(args.fsdd, args.train_takes), FRONTEND)
    (x_train, _), (x_val, y_val), (x_test, y_test) = (feats.split(s) for s in ("train", "valid", "test"))
    cfg = TrainConfig(epochs=args.epochs, batch_size=32, learning_rate=5e-3, finetune_epochs=args.finetune_epochs)
    torch.manual_seed(0)
    base = build_model(ARCH, feats.input_shape, feats.n_classes)
    train(base, feats, cfg)
    print(f"FSDD official split: train {len(x_train)}, valid {len(x_val)}, test {len(x_test)} clips; "
          f"{FRONTEND.describe()} -> input {feats.input_shape}; {ARCH.describe()}; {args.epochs} epochs "
          f"({time.perf_counter() - t0:.0f} s)\n")
    print("ratio    bits   params       MACs     bytes  arena KB  acc file  acc float  steps  TFLM=LiteRT")
    for ratio in RATIOS:
        model = copy.deepcopy(base)
        if ratio > 0:
            prune_model(model, ratio, "l1")
            train(model, feats, cfg, epochs=cfg.finetune_epochs, seed=1,
                  distill=Distillation(teacher=copy.deepcopy(base).eval(), weight=0.5))
        float_acc = accuracy(predict(model, x_test), y_test)
        for bits in BITS_OFFERED:
            tfl = export_tflite(model, bits, x_train)
            print(row(tfl, ratio, f"{bits}", x_test, y_test, x_val, float_acc), flush=True)
        if args.qat:
            qmodel = prepare_qat(copy.deepcopy(model))
            train(qmodel, feats, TrainConfig(**{**cfg.to_dict(), "learning_rate": cfg.learning_rate * 0.2}),
                  epochs=max(1, cfg.finetune_epochs), seed=2)
            print(row(export_qat_tflite(qmodel), ratio, "8+qat", x_test, y_test, x_val, float_acc), flush=True)
    print(f"\nparams/MACs: of the file's graph; arena: TFLite-Micro's allocator (host build); acc file: LiteRT "
          f"on the test split; acc float: the torch model; steps: max |TFLM - LiteRT| in output quantization "
          f"steps (float files: absolute). Total {time.perf_counter() - t0:.0f} s.")


if __name__ == "__main__":
    main()
