"""Feature extraction throughput and the feature-cache speed-up on the FSDD recordings.

Run: ``PYTHONPATH=. python benchmarks/bench_features.py [--fsdd PATH] [--cache-dir DIR]``

For a few frontend settings it times the first ``FeatureCache.features`` call (a miss: resample,
pad, STFT, mel, log, write) and the second (a hit: read, normalise), and prints both side by side
with clips/s and the speed-up. The cache folder is a fresh temporary one unless given.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from nas.candidate import FrontendConfig
from nas.data import FeatureCache, get_source

FRONTENDS = (
    FrontendConfig(kind="logmel", sample_rate=8000, win_ms=32, hop_ms=20, n_mels=32),
    FrontendConfig(kind="mfcc", sample_rate=16000, win_ms=40, hop_ms=20, n_mels=40, n_mfcc=10),
    FrontendConfig(kind="logmel", sample_rate=16000, win_ms=25, hop_ms=10, n_mels=64),
)


def default_fsdd() -> Path:
    shared = Path(os.environ.get("NAS_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
    return shared / "data" / "fsdd"


def run(fsdd: Path, cache_dir: Path) -> None:
    t0 = time.perf_counter()
    dataset = get_source(f"fsdd:{fsdd}").load()
    load_s = time.perf_counter() - t0
    n = len(dataset.clips)
    cpu = platform.processor() or platform.machine()
    print(f"FSDD: {n} clips read and split in {load_s:.2f} s ({n / load_s:.0f} clips/s); "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu}")
    print(f"{'frontend':44s} {'shape':>8s} {'cold s':>7s} {'clips/s':>8s} {'warm s':>7s} {'clips/s':>9s} "
          f"{'speed-up':>8s}")
    cache = FeatureCache(cache_dir)
    for cfg in FRONTENDS:
        t0 = time.perf_counter()
        cache.features(dataset, cfg)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        cache.features(dataset, cfg)
        warm = time.perf_counter() - t0
        shape = "x".join(str(d) for d in cfg.feature_shape)
        print(f"{cfg.kind + ' ' + cfg.describe():44s} {shape:>8s} {cold:7.2f} {n / cold:8.0f} {warm:7.3f} "
              f"{n / warm:9.0f} {cold / warm:7.0f}x")
    print(f"cache: {cache.hits} hits, {cache.misses} misses in {cache_dir}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsdd", type=Path, default=default_fsdd(), help="FSDD folder (holding recordings/)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="feature cache folder (default: temporary)")
    args = parser.parse_args(argv)
    if args.cache_dir is not None:
        run(args.fsdd, args.cache_dir)
        return
    with tempfile.TemporaryDirectory(prefix="bench_features_") as tmp:
        run(args.fsdd, Path(tmp))


if __name__ == "__main__":
    main()
