"""The search against the script an engineer writes in an afternoon, at equal wall time on the same cores.

(a) ``script``: plain Optuna NSGA-II in 2 processes sharing one SQLite storage; a DS-CNN or CNN of searched
    width and depth, fixed 10 epochs (Adam, plain cross-entropy, the last epoch's weights), 40 log-mels at
    a 10 ms hop (25 ms window), objectives validation accuracy / MACs / params, int8 export; no device model.
(b) ``project`` (and variants: ``project-nofidelity`` trains every candidate fully, ``project-random`` samples
    at random, ``project-tpe`` samples with TPE, ``project-nofinalrung`` exports every candidate that came
    through the rungs): a `nas` study on the ``kws`` space with 2 workers, multi-fidelity on by default.

At the deadline no new trial starts; trials under way finish (both sides alike). Every int8 file of both is
then priced by the same cost model on the same device (default nucleo-l4r5zi, frontend included), and the
front is taken over the files that fit the board (RAM, flash, deployable) in (test error, latency, RAM):
the test split is the speaker neither side selected on. Printed side by side: hypervolume (normalized by a
fixed reference point), best test accuracy, trials, and hypervolume against wall time; mean and spread
over the seeds. For the project's studies also: the share of training epochs spent on candidates off the
study's own front, and the share of the workers' time outside training (``nas study show``'s effort line).

``--side-by-side`` runs the variants of a seed at the same time, one process each on its own core (so
background load on a shared machine hits every side alike); otherwise one after the other, ``--workers``
processes each.

Usage: PYTHONPATH=. python benchmarks/bench_vs_script.py [--minutes 8] [--seeds 0 1 2]
       [--variants script project project-nofidelity project-random project-tpe ...] [--side-by-side]
       [--device nucleo-l4r5zi] [--dataset SPEC] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from nas.candidate import ArchConfig, FrontendConfig  # noqa: E402
from nas.study.pareto import hypervolume  # noqa: E402

#: What each project variant changes in the study config (a new search feature gets its row here).
PROJECT_VARIANTS: dict[str, dict] = {"project": {}, "project-nofidelity": {"fidelity": None},
                                     "project-nofinalrung": {"fidelity": {"final_rung": False}},
                                     "project-random": {"sampler": "random"}, "project-tpe": {"sampler": "tpe"},
                                     "project-tpe-nofidelity": {"sampler": "tpe", "fidelity": None}}
SCRIPT_FRONTEND = FrontendConfig(kind="logmel", n_mels=40, win_ms=25, hop_ms=10, normalization="global")
SCRIPT_EPOCHS = 10
_SETUP = threading.Lock()


@dataclass(frozen=True)
class File:
    """One exported int8 file of either side, with when it was finished (seconds after the start)."""

    t: float
    tflite: bytes
    frontend: FrontendConfig
    test_accuracy: float


def _dataset(spec: str | None) -> str:
    shared = Path(os.environ.get("NAS_SHARED_DIR", REPO.parent / "shared"))
    return spec or f"fsdd-speaker:{shared / 'data' / 'fsdd'}:theo"


# --- (a) the afternoon script ----------------------------------------------------------------------------

def _script_worker(storage: str, name: str, dataset_spec: str, cache_dir: str, deadline: float, t0: float,
                   out: str, worker: int) -> None:
    import optuna
    import torch

    from nas.data import FeatureCache, get_source
    from nas.deploy import export_tflite
    from nas.deploy.interpreters import LiteRTRunner
    from nas.hardware.graph import read_graph
    from nas.logs import setup_logging
    from nas.models import build_model

    setup_logging()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    feats = FeatureCache(Path(cache_dir)).features(get_source(dataset_spec).load(), SCRIPT_FRONTEND)
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (feats.split(s) for s in ("train", "valid", "test"))
    study = optuna.load_study(study_name=name, storage=storage,
                              sampler=optuna.samplers.NSGAIISampler(seed=worker * 7919 + 1))
    while time.time() < deadline:
        trial = study.ask()
        family = trial.suggest_categorical("family", ["dscnn", "cnn"])
        channels = trial.suggest_categorical("channels", [16, 32, 64])
        blocks = trial.suggest_int("n_blocks", 1, 4)
        lr = trial.suggest_float("lr", 1e-3, 1e-2, log=True)
        torch.manual_seed(trial.number)
        model = build_model(ArchConfig.of(family, channels=channels, n_blocks=blocks), feats.input_shape,
                            feats.n_classes)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr).long()
        for _ in range(SCRIPT_EPOCHS):
            model.train()
            for i in torch.randperm(len(xt)).split(64):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(xt[i]), yt[i]).backward()
                opt.step()
        tfl = export_tflite(model.eval(), 8, x_tr)
        runner = LiteRTRunner(tfl)
        val = float((runner.predict(x_va).argmax(1) == y_va).mean())
        test = float((runner.predict(x_te).argmax(1) == y_te).mean())
        graph = read_graph(tfl)
        study.tell(trial, [val, float(graph.macs), float(graph.params)])
        path = Path(out) / f"w{worker}-{trial.number:04d}.tflite"
        path.write_bytes(tfl)
        with open(Path(out) / "files.jsonl", "a") as f:
            f.write(json.dumps({"t": time.time() - t0, "file": path.name, "test": test}) + "\n")


def run_script(folder: Path, seed: int, dataset: str, minutes: float, workers: int) -> list[File]:
    import optuna

    storage = f"sqlite:///{folder / f'script-{seed}.db'}"
    name = f"script-{seed}"
    optuna.create_study(study_name=name, storage=storage, directions=["maximize", "minimize", "minimize"])
    out = folder / name
    out.mkdir()
    t0 = time.time()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_script_worker, args=(storage, name, dataset, str(folder / "cache"),
                                                      t0 + 60 * minutes, t0, str(out), seed * 10 + w))
             for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    rows = [json.loads(line) for line in (out / "files.jsonl").read_text().splitlines()] if (
        out / "files.jsonl").exists() else []
    return [File(r["t"], (out / r["file"]).read_bytes(), SCRIPT_FRONTEND, r["test"]) for r in rows]


# --- (b) a project study ----------------------------------------------------------------------------------

def run_project(folder: Path, tag: str, overrides: dict, seed: int, dataset: str, minutes: float,
                workers: int, device: str, threads_split: int) -> tuple[list[File], dict]:
    from nas import service
    from nas.study.config import StudyConfig
    from nas.study.tables import StudyRow, TrialRow, make_engine, make_sessionmaker

    url = f"sqlite:///{folder / (tag + '.db')}"
    cfg = StudyConfig.parse({"name": tag, "dataset": dataset, "space": "kws", "devices": [device],
                             "n_trials": 10_000, "seed": seed, **overrides})
    with _SETUP:  # Alembic's migration context is process-global: one database at a time
        sessions = make_sessionmaker(make_engine(url))
        with sessions() as s:
            service.create_study(s, url, cfg)
    t0 = time.time()
    cmd = [sys.executable, "-m", "nas", "worker", "--db", url, "--study", tag, "--artifacts", str(folder / "runs"),
           "--cache-dir", str(folder / "cache"), "--threads-split", str(threads_split), "--no-linger"]
    procs = [subprocess.Popen(cmd + ["--name", f"{tag}-w{w}"], stdout=subprocess.DEVNULL,
                              stderr=open(folder / f"{tag}-w{w}.log", "w")) for w in range(workers)]
    while time.time() < t0 + 60 * minutes and all(p.poll() is None for p in procs):
        time.sleep(1)
    with sessions() as s:
        service.stop_study(s, tag)  # no new trial starts; those under way finish and are recorded
    for p in procs:
        p.wait()
    files = []
    with sessions() as s:
        study_id = s.query(StudyRow.id).filter(StudyRow.name == tag).scalar()
        for row in s.query(TrialRow).filter(TrialRow.study_id == study_id, TrialRow.status == "ok"):
            if row.bits != 8:
                continue  # the comparison is of int8 files, as the script exports
            t = (row.finished_at - s.query(StudyRow.created_at).filter(StudyRow.id == study_id).scalar())
            files.append(File(t.total_seconds(), service.export_model(s, tag, row.number),
                              FrontendConfig(**row.candidate["frontend"]), float(row.test_accuracy or 0.0)))
        effort = service.study_effort(s, tag)
    return files, effort


# --- the same pricing and front for both ------------------------------------------------------------------

def front_figures(files: list[File], device: str, marks: list[float]) -> dict:
    from nas.hardware import load_profile, price

    profile = load_profile(device)
    points = []
    for f in sorted(files, key=lambda f: f.t):
        r = price(f.tflite, profile, frontend=f.frontend)
        if r.deployable and r.ram_kb <= profile.sram_kb and r.flash_kb <= profile.flash_kb:
            points.append((f.t, (1.0 - f.test_accuracy, r.latency_ms, r.ram_kb)))
    ref = (1.0, 1000.0, profile.sram_kb)
    norm = [(t, [v / r for v, r in zip(p, ref, strict=True)]) for t, p in points]

    def hv_at(t_max: float) -> float:
        return hypervolume([p for t, p in norm if t <= t_max and all(v < 1 for v in p)], [1.0, 1.0, 1.0])

    return {"hv": hv_at(float("inf")), "best": max((f.test_accuracy for f in files), default=0.0),
            "files": len(files), "feasible": len(points), "hv_at": [hv_at(60 * m) for m in marks]}


def _run_variant(folder: Path, variant: str, seed: int, dataset: str, args: argparse.Namespace, workers: int,
                 threads_split: int) -> tuple[list[File], dict]:
    """One side's files (and, for a project study, its effort figures)."""
    if variant == "script":
        return run_script(folder, seed, dataset, args.minutes, workers), {}
    return run_project(folder, f"{variant}-{seed}", PROJECT_VARIANTS[variant], seed, dataset, args.minutes,
                       workers, args.device, threads_split)


def _plot(results: dict[str, list[dict]], marks: list[float], path: Path) -> None:
    """Hypervolume against wall time, one line per variant (mean over seeds), as a self-contained HTML file."""
    import plotly.graph_objects as go

    fig = go.Figure([go.Scatter(x=marks, y=[statistics.mean(r["hv_at"][i] for r in runs) for i in range(len(marks))],
                                mode="lines+markers", name=variant) for variant, runs in results.items()])
    fig.update_layout(title="Hypervolume (test error, latency, RAM) against wall time, mean over seeds",
                      xaxis_title="minutes", yaxis_title="hypervolume (normalized)")
    fig.write_html(path, include_plotlyjs=True)  # the plotting library inline: no network to view it
    print(f"wrote {path}")


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.mean(values):.3f}" + (f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else "")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=8.0, help="wall time of each side (default 8)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--variants", nargs="+", default=["script", "project", "project-random"],
                    choices=["script", *PROJECT_VARIANTS])
    ap.add_argument("--workers", type=int, default=2, help="processes of each side (default 2)")
    ap.add_argument("--side-by-side", action="store_true",
                    help="run the variants of a seed at once, one process each (shares the cores equally)")
    ap.add_argument("--device", default="nucleo-l4r5zi")
    ap.add_argument("--plot", type=Path, help="also write hypervolume against wall time to this HTML file")
    ap.add_argument("--dataset", help="default: FSDD leave-one-speaker-out, test speaker theo")
    ap.add_argument("--keep", type=Path, help="keep the studies' databases, files and logs in this new folder")
    args = ap.parse_args(argv)
    dataset = _dataset(args.dataset)
    marks = [m for m in (1, 2, 4, 6, 8, 12, 16) if m <= args.minutes] or [args.minutes]
    how = (f"side by side, one process each on {len(args.variants)} at once" if args.side_by_side
           else f"one after the other, {args.workers} processes each")
    print(f"{dataset}: {args.minutes:g} min per run, {how}, seeds {args.seeds}, priced on {args.device}", flush=True)
    results: dict[str, list[dict]] = {v: [] for v in args.variants}
    if args.keep:
        args.keep.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="bench-vs-script-") as tmp:
        folder = args.keep or Path(tmp)
        for seed in args.seeds:
            if args.side_by_side:
                pool = ThreadPoolExecutor(len(args.variants))  # each side's processes run while the others do
                runs = {v: pool.submit(_run_variant, folder, v, seed, dataset, args, 1, len(args.variants))
                        for v in args.variants}
                outcome = {v: f.result() for v, f in runs.items()}
                pool.shutdown()
            else:
                outcome = {v: _run_variant(folder, v, seed, dataset, args, args.workers, args.workers)
                           for v in args.variants}
            for variant, (files, effort) in outcome.items():
                r = front_figures(files, args.device, marks) | {"effort": effort}
                results[variant].append(r)
                extra = (f", {effort['dominated_epoch_share']:.0%} of {effort['epochs']} epochs off the front "
                         f"(of {effort['front_size']} trials, {effort['trials']} in all), "
                         f"{effort['outside_training_share']:.0%} outside training" if effort else "")
                print(f"  {variant} seed {seed}: HV {r['hv']:.4f}, best test {r['best']:.3f}, "
                      f"{r['feasible']}/{r['files']} int8 files fit{extra}", flush=True)
    print(f"\n{'run':<20}{'HV (test err, lat, RAM)':>26}{'best test acc':>18}{'int8 files':>12}"
          f"{'epochs off front':>18}{'outside training':>18}" + "".join(f"{'HV@' + format(m, 'g') + 'min':>11}"
                                                                   for m in marks))
    for variant, runs in results.items():
        at = [statistics.mean(r["hv_at"][i] for r in runs) for i in range(len(marks))]
        shares = [_mean_sd([r["effort"][k] for r in runs if r["effort"]]) if runs[0]["effort"] else "-"
                  for k in ("dominated_epoch_share", "outside_training_share")]
        print(f"{variant:<20}{_mean_sd([r['hv'] for r in runs]):>26}{_mean_sd([r['best'] for r in runs]):>18}"
              f"{statistics.mean(r['files'] for r in runs):>12.1f}{shares[0]:>18}{shares[1]:>18}"
              + "".join(f"{v:>11.4f}" for v in at))
    for variant, runs in results.items():
        phases: dict[str, float] = {}
        for r in runs:
            for k, v in r["effort"].get("phases", {}).items():
                phases[k] = phases.get(k, 0.0) + v / r["effort"]["wall_s"] / len(runs)
        if phases:
            print(f"{variant}: worker time by phase (mean share) "
                  + ", ".join(f"{k} {v:.0%}" for k, v in sorted(phases.items(), key=lambda kv: -kv[1])))
    if args.plot:
        _plot(results, marks, args.plot)
    if "script" in results and "project" in results and results["script"]:
        ratio = [p["hv"] / s["hv"] if s["hv"] else float("inf")
                 for p, s in zip(results["project"], results["script"], strict=True)]
        gain = np.mean([p["best"] - s["best"] for p, s in zip(results["project"], results["script"], strict=True)])
        print(f"\nproject / script hypervolume per seed: {', '.join(f'{r:.2f}' for r in ratio)}; "
              f"best test accuracy, project minus script: {gain:+.3f}")


if __name__ == "__main__":
    main()
