"""Search benchmark: hypervolume after the same number of trials for the default sampler (NSGA-II)
and random search, side by side in one run, on FSDD when its loader is available.

Usage: PYTHONPATH=. python benchmarks/bench_search.py [--trials 16] [--workers 2] [--seeds 0 1]
       [--dataset fsdd:PATH]

The dataset defaults to ``fsdd:$NAS_SHARED_DIR/data/fsdd/recordings``; if ``nas.data.get_source`` does
not know ``fsdd`` yet (its loader is on another branch) the built-in synthetic data is used, and the
output says so. Hypervolume is normalized (each objective divided by its reference value) on the
study's first device; its history after each trial is printed every few trials.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_workers import run_study, write_space  # noqa: E402

from nas.data import get_source  # noqa: E402
from nas.errors import NasError  # noqa: E402
from nas.study.tables import FrontHistoryRow, make_engine, make_sessionmaker  # noqa: E402


def pick_dataset(spec: str | None) -> tuple[str, str]:
    """(dataset spec, note) - FSDD if the loader accepts it, else synthetic with the reason."""
    shared = Path(os.environ.get("NAS_SHARED_DIR", REPO.parent / "shared"))
    spec = spec or f"fsdd:{shared / 'data' / 'fsdd' / 'recordings'}"
    try:
        get_source(spec)
        return spec, ""
    except NasError as e:
        return "synthetic:320", f"(fell back to synthetic:320: {spec} is not available here: {e})"


def history(folder: Path, tag: str) -> list[float]:
    sessions = make_sessionmaker(make_engine(f"sqlite:///{folder / (tag + '.db')}"))
    with sessions() as s:
        return [h for (h,) in s.query(FrontHistoryRow.hypervolume).order_by(FrontHistoryRow.id)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--dataset")
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
    dataset, note = pick_dataset(args.dataset)
    print(f"dataset {dataset} {note}\n{args.trials} trials per study, {args.workers} workers, "
          f"seeds {args.seeds}", flush=True)
    results: dict[str, list[dict]] = {"nsga2": [], "random": []}
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        folder = Path(tmp)
        space = str(write_space(folder, args.epochs))
        for seed in args.seeds:
            for sampler in results:
                tag = f"{sampler}-{seed}"
                r = run_study(folder, tag, {"dataset": dataset, "space": space, "sampler": sampler, "seed": seed,
                                            "n_trials": args.trials}, args.workers)
                r["history"] = history(folder, tag)
                results[sampler].append(r)
                print(f"  {tag}: hypervolume {r['hv']:.4f} ({r['feasible']} feasible, {r['wall_s']:.0f} s)",
                      flush=True)
    step = max(1, args.trials // 4)
    marks = list(range(step, args.trials + 1, step))
    print(f"\n{'sampler':<10}" + "".join(f"{'HV@' + str(m):>10}" for m in marks) + f"{'wall s':>10}")
    for sampler, runs in results.items():
        mean = [sum(r["history"][m - 1] for r in runs if len(r["history"]) >= m) / len(runs) for m in marks]
        wall = sum(r["wall_s"] for r in runs) / len(runs)
        print(f"{sampler:<10}" + "".join(f"{v:>10.4f}" for v in mean) + f"{wall:>10.0f}")
    print("(normalized hypervolume of accuracy x latency x RAM on nucleo-l4r5zi, mean over seeds; higher is better)")


if __name__ == "__main__":
    main()
