"""Latency of the REST API with a large study: p50/p95 of the Pareto and trial-table endpoints.

Run: ``PYTHONPATH=. python benchmarks/bench_api.py [--trials 10000] [--requests 200] [--db URL]``

Bulk-inserts a finished study of ``--trials`` realistic trials (two devices, per-layer cost reports,
training curves, confusion matrices, ~10 % infeasible, ~2 % failed, the real Pareto front per
device and a hypervolume history) through the service's tables into a fresh SQLite file (or
``--db``), then times each endpoint through the real app (FastAPI TestClient, in process) and
prints a table. ``seed_fake_study`` is also used by the API tests and the browser test.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from nas.hardware import CostReport, LayerCost, load_profile
from nas.study.config import StudyConfig
from nas.study.pareto import dominates
from nas.study.sampler import loss_vector, normalized_hypervolume
from nas.study.tables import (
    FrontHistoryRow,
    MeasurementRow,
    ParetoPointRow,
    StudyRow,
    TrialRow,
    make_engine,
    make_sessionmaker,
    utcnow,
)

DEVICES = ("nucleo-l4r5zi", "nrf52840")
FAMILIES = ("dscnn", "cnn", "mlp")
CLASSES = ("siren", "car_horn", "alarm_beep", "dog_bark", "babble", "engine", "doorbell", "background")


def _layers(rng: random.Random, total_ms: float, macs: int, bits: int) -> list[dict]:
    ops = ["CONV_2D"] + ["DEPTHWISE_CONV_2D", "CONV_2D"] * rng.randint(2, 5) + ["MEAN", "FULLY_CONNECTED",
                                                                                  "SOFTMAX"]
    w = [rng.random() + (0.5 if "CONV" in op else 0.05) for op in ops]
    dtype = "int8" if bits == 8 else "float32"
    out = []
    for i, (op, wi) in enumerate(zip(ops, w, strict=True)):
        share = wi / sum(w)
        ch = rng.choice((8, 16, 24, 32, 48, 64))
        out.append({"index": i, "op": op, "shape": f"1x{rng.randint(5, 25)}x{rng.randint(4, 16)}x{ch}",
                    "dtype": dtype, "macs": int(macs * share), "cycles": total_ms * share * 120e3,
                    "ms": total_ms * share, "share": share, "kernel": "cmsis-nn" if bits == 8 else "reference",
                    "scratch_bytes": rng.choice((0, 0, 512, 2048))})
    return out


def _trial(rng: random.Random, number: int) -> dict:
    family = rng.choice(FAMILIES)
    bits = rng.choice((8, 8, 32))
    prune = rng.choice((0.0, 0.25, 0.5))
    channels, blocks = rng.choice((8, 16, 24, 32, 48, 64)), rng.randint(1, 5)
    params = int(channels * channels * blocks * 9 * (1 - prune) ** 2 + 2000)
    macs = int(params * rng.uniform(20, 60))
    size = math.log(params)
    acc = min(0.99, max(0.3, 0.35 + 0.07 * size - 0.04 * prune + (0.01 if bits == 32 else 0)
                        + rng.gauss(0, 0.04)))
    arch = {"family": family, "channels": channels, "n_blocks": blocks}
    n_mels = rng.choice((16, 32, 40))
    return {"number": number, "family": family, "bits": bits, "prune": prune, "params": params, "macs": macs,
            "acc": acc, "arch": arch, "n_mels": n_mels,
            "describe": f"{family}(channels={channels} n_blocks={blocks})"}


def seed_fake_study(url: str, name: str, n_trials: int, *, seed: int = 0, history_every: int = 100) -> int:
    """Insert a finished study of ``n_trials`` synthetic trials; returns the study's id."""
    rng = random.Random(seed)
    cfg = StudyConfig.parse({"name": name, "n_trials": n_trials, "devices": list(DEVICES), "space": "demo"})
    profiles = {d: load_profile(d) for d in DEVICES}
    sessions = make_sessionmaker(make_engine(url))
    with sessions() as s:
        study = StudyRow(name=name, config=cfg.model_dump(), status="finished", budget=n_trials, claimed=n_trials,
                         dataset_summary={"class_counts": {c: 100 for c in CLASSES}})
        s.add(study)
        s.flush()
        first_id = (s.scalar(select(func.max(TrialRow.id))) or 0) + 1
        trials, measures, fronts, history = [], [], {d: {} for d in DEVICES}, []
        for i in range(n_trials):
            t = _trial(rng, i)
            tid = first_id + i
            failed = rng.random() < 0.02
            costs = {}
            for d in profiles:
                speed = 1.0 if d == DEVICES[0] else 1.9
                lat = t["macs"] / (4e4 if t["bits"] == 8 else 6e3) * speed + rng.uniform(1, 3)
                ram = t["params"] * (0.002 if t["bits"] == 8 else 0.006) + rng.uniform(10, 60)
                flash = t["params"] * (1.1 if t["bits"] == 8 else 4.2) / 1024 + 140
                costs[d] = (lat, ram, flash)
            lat0, ram0, flash0 = costs[DEVICES[0]]
            feasible = not failed and all(c[1] <= profiles[d].sram_kb and c[2] <= profiles[d].flash_kb
                                          for d, c in costs.items())
            status = "failed" if failed else ("ok" if feasible else "infeasible")
            candidate = {"frontend": {"kind": "logmel", "n_mels": t["n_mels"], "hop_ms": 32}, "arch": t["arch"],
                         "train": {"epochs": 10}, "prune_ratio": t["prune"], "prune_criterion": "l1",
                         "bits": t["bits"]}
            history_curve = [{"epoch": e + 1, "loss": 2.1 * math.exp(-0.3 * e), "val_accuracy": t["acc"] * (1 - 0.5
                              * math.exp(-0.5 * e))} for e in range(10)]
            confusion = [[rng.randint(0, 3) if r != c else rng.randint(10, 20) for c in range(8)] for r in range(8)]
            ok = status == "ok"
            trials.append({
                "id": tid, "study_id": study.id, "number": i, "status": status,
                "reason": "RuntimeError: synthetic failure" if failed else (None if feasible else
                                                                            "RAM exceeds the budget"),
                "candidate": candidate, "family": t["family"], "arch": t["describe"],
                "frontend": f"{t['n_mels']} mel @16kHz", "bits": t["bits"], "prune_ratio": t["prune"],
                "accuracy": t["acc"] if ok else None, "test_accuracy": t["acc"] - 0.02 if ok else None,
                "float_accuracy": t["acc"] + 0.005 if ok else None, "latency_ms": None if failed else lat0,
                "ram_kb": None if failed else ram0, "flash_kb": None if failed else flash0,
                "macs": t["macs"], "params": t["params"], "tflite_bytes": int(flash0 * 1024 - 140 * 1024),
                "feasible": feasible, "worker": f"w{i % 4 + 1}", "finished_at": utcnow(),
                "details": {"history": history_curve, "confusion": confusion,
                            "seconds": {"train": 20.0, "export": 1.0}} if ok else {},
            })
            if failed:
                continue
            for d, (lat, ram, flash) in costs.items():
                report = CostReport(device=d, deployable=True, latency_ms=lat, ram_kb=ram, flash_kb=flash,
                                    arena_kb=ram * 0.7, macs=t["macs"], params=t["params"], ram_source="measured",
                                    layers=tuple(LayerCost(**la) for la in _layers(rng, lat, t["macs"], t["bits"])))
                measures.append({"trial_id": tid, "device": d, "deployable": True, "latency_ms": lat, "ram_kb": ram,
                                 "flash_kb": flash, "latency_source": "estimated", "ram_source": "measured",
                                 "report": report.to_dict()})
                if feasible:
                    figures = {"accuracy": t["acc"], "latency_ms": lat, "ram_kb": ram, "flash_kb": flash,
                               "macs": t["macs"], "params": t["params"]}
                    _add_to_front(fronts[d], cfg, tid, i, [figures[o] for o in cfg.objectives])
            if (i + 1) % history_every == 0 or i == n_trials - 1:
                front = [v for _, v in fronts[DEVICES[0]].values()]
                history.append({"study_id": study.id, "n_trials": i + 1, "front_size": len(front),
                                "hypervolume": normalized_hypervolume(cfg, profiles[DEVICES[0]], front)})
        for table, rows in ((TrialRow, trials), (MeasurementRow, measures), (FrontHistoryRow, history)):
            for k in range(0, len(rows), 2000):
                s.execute(insert(table), rows[k:k + 2000])
        s.execute(insert(ParetoPointRow), [{"study_id": study.id, "device": d, "trial_id": tid, "number": n,
                                            "values": v} for d in DEVICES for tid, (n, v) in fronts[d].items()])
        s.commit()
        return study.id


def _add_to_front(front: dict[int, tuple[int, list[float]]], cfg: StudyConfig, tid: int, number: int,
                  values: list[float]) -> None:
    new = loss_vector(cfg, values)
    if any(dominates(loss_vector(cfg, v), new) for _, v in front.values()):
        return
    for k in [k for k, (_, v) in front.items() if dominates(new, loss_vector(cfg, v))]:
        del front[k]
    front[tid] = (number, values)


def _time(client, url: str, n: int) -> tuple[float, float, int]:
    client.get(url)  # warm up
    ms = []
    size = 0
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(url)
        ms.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (url, r.status_code, r.text[:200])
        size = len(r.content)
    q = statistics.quantiles(ms, n=100)
    return statistics.median(ms), q[94], size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file in a temporary folder)")
    args = ap.parse_args(argv)

    from fastapi.testclient import TestClient

    from nas.api import Settings, create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        name = f"bench-{int(time.time())}"
        t = time.perf_counter()
        seed_fake_study(url, name, args.trials)
        print(f"inserted {args.trials} trials into {url.split('///')[0]}... in {time.perf_counter() - t:.1f} s")
        client = TestClient(create_app(Settings(db_url=url, api_token="bench-token-0123456789")))
        info = client.get(f"/api/studies/{name}").json()
        front = client.get(f"/api/studies/{name}/pareto").json()["points"]
        print(f"study {name}: {info['finished']} trials, {info['feasible']} feasible, front of {len(front)} "
              f"on {DEVICES[0]}; {args.requests} requests per endpoint (TestClient, in process)\n")
        cases = [
            ("pareto", f"/api/studies/{name}/pareto"),
            ("pareto, 2nd device", f"/api/studies/{name}/pareto?device={DEVICES[1]}"),
            ("pareto + infeasible", f"/api/studies/{name}/pareto?feasible_only=false"),
            ("trials p1 by number", f"/api/studies/{name}/trials?page=1&per_page=50"),
            ("trials p100 by acc desc", f"/api/studies/{name}/trials?page=100&per_page=50&sort=accuracy&order=desc"),
            ("trials p50 by latency", f"/api/studies/{name}/trials?page=50&per_page=50&sort=latency_ms"),
            ("trials p10 by ram desc", f"/api/studies/{name}/trials?page=10&per_page=50&sort=ram_kb&order=desc"),
            ("study info", f"/api/studies/{name}"),
            ("study page (HTML)", f"/studies/{name}"),
            ("params (parcoords)", f"/api/studies/{name}/params"),
        ]
        print(f"{'endpoint':<26} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>9}  url")
        for label, u in cases:
            n = args.requests if "params" not in label and "HTML" not in label else max(10, args.requests // 10)
            p50, p95, size = _time(client, u, n)
            print(f"{label:<26} {p50:>8.1f} {p95:>8.1f} {size:>9,}  {u.replace(name, '{name}')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
