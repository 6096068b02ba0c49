"""Training benchmark: what augmentation and kept best weights buy on an honest split, and epoch speed.

Run: ``PYTHONPATH=. python benchmarks/bench_training.py [--fsdd PATH] [--speaker theo] [--seeds 3] [--epochs 10]``
(``--speed`` for the speed table only, ``--table`` for the accuracy table only; both by default).

Accuracy table: three fixed architectures (a DS-CNN-S-like model, a small CNN, the frame MLP) on FSDD
leave-one-speaker-out (``--speaker`` is the test speaker, the next one alphabetically validation, the
other four train), one frontend (10 MFCC of 40 mel bands @16 kHz, 40 ms window, 20 ms hop, as in the
DS-CNN paper; clip peak-normalised),
trained ``--epochs`` epochs per seed, exported to a full-integer int8 ``.tflite`` and evaluated in
LiteRT on the test speaker. Two recipes side by side:

- ``plain``: no augmentation, the last epoch's weights exported;
- ``aug+best``: the ``kws`` space's augmentation (time shift, level, SpecAugment masks) and the best
  validation epoch's weights exported.

Each cell is the mean and the spread (min..max) over ``--seeds`` seeds. ``--raw-level`` adds a third
recipe, ``plain`` on clips at their recorded level (``level: none``): the DS-CNN defect of issue 12.

Speed table: seconds per epoch of the DS-CNN-S-like model on FSDD and on a 10k-clip synthetic set
(the size of a Speech Commands task split), with the share of the epoch spent outside forward, backward
and optimizer steps (data handling, augmentation, validation bookkeeping, logging), on this machine's
torch threads (``--threads``, 2 by default); with a CUDA device, the same on the GPU beside it.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from nas.candidate import ArchConfig, FrontendConfig, TrainConfig
from nas.data import FeatureCache, SyntheticSource
from nas.data.fsdd import FSDDSource
from nas.deploy import evaluate_file, export_tflite
from nas.models import build_model
from nas.train import DeviceFeatures, cuda_available, train

log = logging.getLogger("bench_training")

# The DS-CNN paper's input (10 MFCC from 40 mel bands, 40 ms window, 20 ms hop), clip peak-normalised.
FRONTEND = FrontendConfig(kind="mfcc", sample_rate=16000, win_ms=40, hop_ms=20, n_mels=40, n_mfcc=10, level="peak")
ARCHS = {
    "DS-CNN-S-like": ArchConfig.of("dscnn", channels=64, n_blocks=4, first_kernel=5, first_stride=2, head="global",
                                   dropout=0.1),
    "small CNN": ArchConfig.of("cnn", channels=16, n_blocks=3, channel_growth=2.0, kernel=3, head="time", dropout=0.1),
    "frame MLP": ArchConfig.of("mlp", context=4, hidden=128, n_layers=2, dropout=0.1),
}
PLAIN = TrainConfig(epochs=10, batch_size=32, learning_rate=3e-3, keep_best=False, chance_epochs=0)
# The augmentation of search_spaces/kws.yaml (noise needs a dataset with noise: FSDD has none).
AUGMENTED = replace(PLAIN, keep_best=True, time_shift_ms=100, gain_db=6, time_masks=2, time_mask_frames=4,
                    freq_masks=1, freq_mask_bins=3)


def default_fsdd() -> Path:
    shared = Path(os.environ.get("NAS_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
    return shared / "data" / "fsdd"


def int8_test_accuracy(feats, arch: ArchConfig, cfg: TrainConfig, seed: int) -> tuple[float, float, int]:
    """(int8 file test accuracy, seconds, exported epoch) of one training run."""
    torch.manual_seed(seed)
    model = build_model(arch, feats.input_shape, feats.n_classes)
    t = time.perf_counter()
    r = train(model, feats, cfg, seed=seed)
    tfl = export_tflite(model, 8, feats.split("train")[0])
    acc, _ = evaluate_file(tfl, *feats.split("test"))
    return acc, time.perf_counter() - t, r.best_epoch


def cell(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ({min(values):.2f}..{max(values):.2f})"


def accuracy_table(args: argparse.Namespace, cache: FeatureCache) -> None:
    ds = FSDDSource(args.fsdd, split="speaker", test_speaker=args.speaker).load()
    recipes: dict[str, tuple[FrontendConfig, TrainConfig]] = {
        "plain": (FRONTEND, replace(PLAIN, epochs=args.epochs)),
        "aug+best": (FRONTEND, replace(AUGMENTED, epochs=args.epochs)),
    }
    if args.raw_level:
        recipes = {"plain, level none": (replace(FRONTEND, level="none"), replace(PLAIN, epochs=args.epochs)),
                   **recipes}
    feats = {name: cache.features(ds, fe) for name, (fe, _) in recipes.items()}
    print(f"FSDD leave-one-speaker-out, test speaker {args.speaker}: int8 .tflite test accuracy, "
          f"mean (min..max) over {args.seeds} seeds, {args.epochs} epochs, {FRONTEND.describe()}", flush=True)
    print(f"{'architecture':<16}" + "".join(f"{name:>26}" for name in recipes), flush=True)
    for arch_name, arch in ARCHS.items():
        row = []
        for name, (_, cfg) in recipes.items():
            accs = []
            for seed in range(args.seeds):
                acc, secs, epoch = int8_test_accuracy(feats[name], arch, cfg, seed)
                log.info("%s %s seed %d: int8 test %.3f (epoch %d exported, %.0f s)", arch_name, name, seed, acc,
                         epoch, secs)
                accs.append(acc)
            row.append(cell(accs))
        print(f"{arch_name:<16}" + "".join(f"{c:>26}" for c in row), flush=True)


def epoch_speed(feats, arch: ArchConfig, cfg: TrainConfig, device: str) -> tuple[float, float]:
    """(seconds per epoch, share outside forward/backward/step) over the epochs after the first."""
    torch.manual_seed(0)
    model = build_model(arch, feats.input_shape, feats.n_classes)
    r = train(model, feats, cfg, tensors=DeviceFeatures.of(feats, device))
    hist = r.history[1:] or r.history  # the first epoch pays one-off warm-up (allocator, kernels)
    seconds = sum(h["seconds"] for h in hist)
    return seconds / len(hist), 1.0 - sum(h["compute_seconds"] for h in hist) / seconds


def speed_table(args: argparse.Namespace, cache: FeatureCache) -> None:
    arch = ARCHS["DS-CNN-S-like"]
    sets = {"FSDD (2000 train clips)": FSDDSource(args.fsdd, split="speaker", test_speaker=args.speaker).load(),
            "synthetic 10k (7000 train clips)": SyntheticSource(n_clips=10000, seed=0).load()}
    devices = ["cpu"] + (["cuda"] if cuda_available() else [])
    cfg = replace(AUGMENTED, epochs=3)
    print(f"\nDS-CNN-S-like seconds per epoch (batch {cfg.batch_size}, kws augmentation on), torch threads "
          f"{torch.get_num_threads()}; 'outside' = share of the epoch outside forward/backward/step", flush=True)
    print(f"{'data set':<34}" + "".join(f"{d + ' s/epoch':>16}{d + ' outside':>16}" for d in devices), flush=True)
    for name, ds in sets.items():
        feats = cache.features(ds, FRONTEND)
        row = []
        for dev in devices:
            per_epoch, outside = epoch_speed(feats, arch, cfg, dev)
            row.append(f"{per_epoch:>16.2f}{outside:>16.1%}")
        print(f"{name:<34}" + "".join(row), flush=True)
    if not cuda_available():
        print("(no CUDA device visible: GPU columns left out)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--fsdd", type=Path, default=default_fsdd())
    p.add_argument("--speaker", default="theo")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache-dir", type=Path, default=Path(".nas_cache"))
    p.add_argument("--table", action="store_true", help="only the accuracy table")
    p.add_argument("--speed", action="store_true", help="only the speed table")
    p.add_argument("--raw-level", action="store_true", help="add 'plain' on clips at their recorded level")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    torch.set_num_threads(args.threads)
    cache = FeatureCache(args.cache_dir)
    if not args.speed:
        accuracy_table(args, cache)
    if not args.table:
        speed_table(args, cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
