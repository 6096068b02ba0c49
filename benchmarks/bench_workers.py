"""Worker pool benchmark, side by side in one run (a few minutes on 2 cores):

1. trials per minute with 1 and with 2 local workers (same study, same seed);
2. training time saved by the precheck: the same seeded random-sampler study (so the same candidates)
   with and without it, under a latency deadline that about half of the space breaks;
3. early stopping on and off: the same seeded random-sampler study (same candidates), wall time,
   epochs trained and the front's hypervolume.

Usage: PYTHONPATH=. python benchmarks/bench_workers.py [--trials 8] [--dataset synthetic:800]
Wall times include starting the worker processes (importing torch and litert-torch, ~5-10 s).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import select  # noqa: E402

from nas import service  # noqa: E402
from nas.study.config import StudyConfig  # noqa: E402
from nas.study.store import savings  # noqa: E402
from nas.study.tables import FrontHistoryRow, ParetoPointRow, StudyRow, TrialRow, make_engine, make_sessionmaker  # noqa: E402
from nas.study.worker import run_local_workers  # noqa: E402

SPACE = """\
name: bench
description: benchmark space (small models, a few epochs; latency 17-800 ms on the L4R5ZI)
frontend:
  n_mels: [16, 32]
  hop_ms: [20, 32]
families:
  dscnn:
    n_blocks: {int: [1, 3]}
    channels: [8, 16, 32, 48]
    first_stride: [1, 2]
  mlp:
    context: {int: [1, 3]}
    hidden: [16, 64, 128]
    n_layers: {int: [1, 2]}
compression:
  prune_ratio: [0.0, 0.5]
  bits: [32, 8]
training:
  epochs: EPOCHS
  finetune_epochs: 1
"""


def write_space(folder: Path, epochs: int) -> Path:
    path = folder / f"bench-{epochs}ep.yaml"
    path.write_text(SPACE.replace("EPOCHS", str(epochs)))
    return path


def run_study(folder: Path, tag: str, config: dict, workers: int) -> dict:
    """Create and run one study in its own SQLite file; return its figures."""
    url = f"sqlite:///{folder / (tag + '.db')}"
    sessions = make_sessionmaker(make_engine(url))
    cfg = StudyConfig.parse({"name": tag, **config})
    with sessions() as s:
        service.create_study(s, url, cfg)
    t0 = time.perf_counter()
    run_local_workers(url, tag, workers, artifacts=folder / "runs", cache_dir=folder / "cache")
    wall = time.perf_counter() - t0
    with sessions() as s:
        study = s.query(StudyRow).one()
        rows = s.query(TrialRow).filter(TrialRow.study_id == study.id).all()
        hv = s.query(FrontHistoryRow.hypervolume).filter(FrontHistoryRow.study_id == study.id) \
            .order_by(FrontHistoryRow.id.desc()).limit(1).scalar()
        saved = savings(s, study.id)
        front = set(s.scalars(select(ParetoPointRow.number).where(ParetoPointRow.study_id == study.id,
                                                                  ParetoPointRow.device == cfg.devices[0])))
    train_s = sum(r.details.get("seconds", {}).get("train", 0.0) + r.details.get("seconds", {}).get("prune", 0.0)
                  for r in rows)
    epochs = sum(sum(1 for h in r.details.get("history", []) if "phase" not in h) for r in rows)
    return {"wall_s": wall, "trials": len(rows), "per_min": 60 * len(rows) / wall, "hv": hv or 0.0,
            "train_s": train_s, "epochs": epochs, "feasible": sum(r.feasible for r in rows),
            "infeasible": sum(r.status == "infeasible" for r in rows), "saved": saved,
            "status": {r.number: r.status for r in rows},
            "after_precheck_s": {r.number: sum(v for k, v in r.details.get("seconds", {}).items()
                                               if k not in ("features", "precheck")) for r in rows},
            "by_number": {r.number: (r.accuracy, bool(r.details.get("stopped_early")), r.number in front)
                          for r in rows}}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--dataset", default="synthetic:800")
    ap.add_argument("--deadline-ms", type=float, default=50.0, help="latency deadline of the precheck study")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sections", default="123", help="which of the three comparisons to run (default 123)")
    ap.add_argument("--es-trials", type=int, help="trials of the early-stopping studies (default trials + 4)")
    ap.add_argument("--es-epochs", type=int, default=6, help="planned epochs in the early-stopping studies")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        folder = Path(tmp)
        base = {"dataset": args.dataset, "seed": args.seed, "n_trials": args.trials}
        space3, space6 = str(write_space(folder, 3)), str(write_space(folder, 6))
        print(f"dataset {args.dataset}, {args.trials} trials per study, {os.cpu_count()} cores", flush=True)

        if "1" in args.sections:
            throughput(folder, base, space3)
        if "2" in args.sections:
            precheck(folder, base, space6, args.deadline_ms)
        if "3" in args.sections:
            es_space = str(write_space(folder, args.es_epochs))
            early_stopping(folder, {**base, "n_trials": args.es_trials or args.trials + 4}, es_space, args.es_epochs)


def throughput(folder: Path, base: dict, space3: str) -> None:
    one = run_study(folder, "w1", {**base, "space": space3, "sampler": "random"}, 1)
    two = run_study(folder, "w2", {**base, "space": space3, "sampler": "random"}, 2)
    print("\n1. throughput (random sampler, same space and budget)")
    print(f"   {'workers':<22}{'1':>10}{'2':>10}")
    print(f"   {'wall s':<22}{one['wall_s']:>10.1f}{two['wall_s']:>10.1f}")
    print(f"   {'trials per minute':<22}{one['per_min']:>10.2f}{two['per_min']:>10.2f}")
    print(f"   speed-up {two['per_min'] / one['per_min']:.2f}x", flush=True)


def precheck(folder: Path, base: dict, space6: str, deadline_ms: float) -> None:
    pc = {**base, "space": space6, "sampler": "random", "max_latency_ms": deadline_ms}
    on = run_study(folder, "pre-on", {**pc, "precheck": True}, 1)
    off = run_study(folder, "pre-off", {**pc, "precheck": False}, 1)
    rejected = [n for n, st in on["status"].items() if st == "infeasible"]
    avoided = sum(off["after_precheck_s"][n] for n in rejected)
    print(f"\n2. precheck (same candidates, 6 epochs; deadline {deadline_ms:g} ms on nucleo-l4r5zi)")
    print(f"   {'precheck':<22}{'on':>10}{'off':>10}")
    print(f"   {'wall s':<22}{on['wall_s']:>10.1f}{off['wall_s']:>10.1f}")
    print(f"   {'training s (+prune)':<22}{on['train_s']:>10.1f}{off['train_s']:>10.1f}")
    print(f"   {'infeasible trials':<22}{on['infeasible']:>10}{off['infeasible']:>10}")
    print(f"   {'hypervolume':<22}{on['hv']:>10.4f}{off['hv']:>10.4f}")
    print(f"   work avoided: {avoided:.1f} s (train, prune, export, evaluate, price of the {len(rejected)} rejected "
          f"candidates, measured in the 'off' study); prechecks cost {on['saved'].precheck_cost_s:.1f} s "
          f"({on['trials']} exports): net {avoided - on['saved'].precheck_cost_s:+.1f} s; wall "
          f"{off['wall_s'] - on['wall_s']:+.1f} s; the study's own estimate {on['saved'].precheck_saved_s:+.1f} s",
          flush=True)


def early_stopping(folder: Path, base: dict, space: str, epochs: int) -> None:
    es = {**base, "space": space, "sampler": "random"}
    es_off = run_study(folder, "es-off", {**es, "early_stopping": False}, 1)
    es_on = run_study(folder, "es-on", {**es, "early_stopping": True}, 1)
    print(f"\n3. early stopping (same candidates, {epochs} epochs, {es['n_trials']} trials)")
    print(f"   {'early stopping':<22}{'off':>10}{'on':>10}")
    print(f"   {'wall s':<22}{es_off['wall_s']:>10.1f}{es_on['wall_s']:>10.1f}")
    print(f"   {'training s (+prune)':<22}{es_off['train_s']:>10.1f}{es_on['train_s']:>10.1f}")
    print(f"   {'epochs trained':<22}{es_off['epochs']:>10}{es_on['epochs']:>10}")
    print(f"   {'stopped early':<22}{0:>10}{es_on['saved'].stopped_early:>10}")
    print(f"   {'hypervolume':<22}{es_off['hv']:>10.4f}{es_on['hv']:>10.4f}")
    print(f"   saved: {es_off['wall_s'] - es_on['wall_s']:.1f} s wall, "
          f"{es_off['train_s'] - es_on['train_s']:.1f} s training; the study's own estimate: "
          f"{es_on['saved'].early_saved_s:.1f} s", flush=True)
    for n, (acc, stopped, _) in sorted(es_on["by_number"].items()):
        if stopped:
            full_acc, _, on_front = es_off["by_number"][n]
            print(f"   trial {n} stopped at accuracy {acc:.3f}; trained fully (early stopping off) it reached "
                  f"{full_acc:.3f} and was {'ON' if on_front else 'not on'} the front")


if __name__ == "__main__":
    main()
