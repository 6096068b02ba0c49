"""Study commands: ``demo``, ``study create|run|show|export|stop``, ``worker``, ``spaces``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import yaml

from nas import service
from nas.db import make_engine, make_sessionmaker
from nas.errors import ConfigError
from nas.study_config import StudyConfig

DEFAULT_DB = "sqlite:///runs/nas.db"


def _sessions(url: str):
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return make_sessionmaker(make_engine(url))


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_front(points: list[service.FrontPoint], artifacts: Path | None, study: str) -> None:
    """The front as a table; columns are as wide as their longest value (architectures are never cut)."""
    rows = [(str(p.number), p.arch, p.frontend, str(p.bits), f"{p.prune_ratio:.2f}", _fmt(p.accuracy, ".3f"),
             _fmt(p.test_accuracy, ".3f"), f"{p.latency_ms:.2f}", f"{p.ram_kb:.1f}", f"{p.flash_kb:.1f}",
             str(artifacts / study / f"trial-{p.number:04d}" / "model.tflite") if artifacts else "")
            for p in points]
    header = ("trial", "architecture", "frontend", "bits", "prune", "acc", "test", "lat ms", "RAM KB", "flash KB",
              "tflite")
    left = {1, 2, 10}  # text columns
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    print(line(header).rstrip())
    print("-" * len(line(header).rstrip()))
    for r in rows:
        print(line(r).rstrip())
    if points:
        p = points[0]
        print(f"(acc: the exported .tflite in LiteRT on the validation split; test: on the held-out split. "
              f"latency {p.latency_source}, RAM {p.ram_source} on {p.device})")


def _config_from_args(args: argparse.Namespace) -> StudyConfig:
    data: dict = {}
    if getattr(args, "config", None):
        try:
            data = yaml.safe_load(Path(args.config).read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"{args.config}: cannot read study config: {e}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{args.config}: a study config must be a mapping")
    for key in ("name", "dataset", "space", "sampler", "seed", "max_latency_ms", "min_accuracy"):
        if getattr(args, key, None) is not None:
            data[key] = getattr(args, key)
    if getattr(args, "trials", None) is not None:
        data["n_trials"] = args.trials
    if getattr(args, "device", None):
        data["devices"] = args.device
    if getattr(args, "objective", None):
        data["objectives"] = args.objective
    if getattr(args, "no_precheck", False):
        data["precheck"] = False
    if getattr(args, "early_stopping", False):
        data["early_stopping"] = True
    return StudyConfig.parse(data)


def cmd_demo(args: argparse.Namespace) -> int:
    from nas.workers import run_local_workers

    name = args.name or "demo-" + dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    cfg = StudyConfig.parse({"name": name, "n_trials": args.trials, "dataset": args.dataset, "space": args.space,
                             "devices": args.device or ["nucleo-l4r5zi"]})
    sessions = _sessions(args.db)
    with sessions() as s:
        info = service.create_study(s, args.db, cfg)
    print(f"study {info.name}: {cfg.n_trials} trials of space '{cfg.space}' on {cfg.dataset}, "
          f"{args.workers} workers, device {cfg.devices[0]}, database {args.db}", flush=True)
    run_local_workers(args.db, name, args.workers, artifacts=Path(args.artifacts))
    with sessions() as s:
        info = service.study_info(s, name)
        points = service.pareto(s, name)
    print(f"\nPareto front of {name} ({info.finished} trials, {info.feasible} feasible, {info.failed} failed; "
          f"hypervolume {_fmt(info.hypervolume, '.4f')}):")
    print_front(points, Path(args.artifacts), name)
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    cfg = _config_from_args(args)
    with _sessions(args.db)() as s:
        info = service.create_study(s, args.db, cfg)
    print(f"created study {info.name} ({info.budget} trials); run it with: nas study run {info.name} --db {args.db}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from nas.workers import run_local_workers

    with _sessions(args.db)() as s:
        service.resume_study(s, args.name)
    run_local_workers(args.db, args.name, args.workers, artifacts=Path(args.artifacts))
    return cmd_show(args)


def cmd_show(args: argparse.Namespace) -> int:
    with _sessions(args.db)() as s:
        info = service.study_info(s, args.name)
        points = service.pareto(s, args.name, device=getattr(args, "device_name", None))
        saved = service.study_savings(s, args.name)
    if getattr(args, "json", False):
        print(json.dumps({"study": info.to_dict(), "pareto": [p.to_dict() for p in points], "savings": saved},
                         indent=2))
        return 0
    print(f"study {info.name}: {info.status}, {info.finished}/{info.budget} trials "
          f"({info.feasible} feasible, {info.failed} failed), hypervolume {_fmt(info.hypervolume, '.4f')}")
    print(f"precheck: {saved['precheck_skipped']} candidate(s) not trained, net ~{saved['precheck_saved_s']:.0f} s "
          f"of training saved (the prechecks took {saved['precheck_cost_s']:.0f} s); early stopping: "
          f"{saved['stopped_early']} stopped, ~{saved['early_saved_s']:.0f} s saved")
    print_front(points, Path(args.artifacts), info.name)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    with _sessions(args.db)() as s:
        data = service.export_model(s, args.name, args.trial)
    Path(args.output).write_bytes(data)
    print(f"wrote {args.output} ({len(data)} bytes)")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    with _sessions(args.db)() as s:
        info = service.stop_study(s, args.name)
    print(f"study {info.name}: {info.status}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with _sessions(args.db)() as s:
        for info in service.list_studies(s):
            print(f"{info.name:<32} {info.status:<9} {info.finished:>5}/{info.budget:<5} "
                  f"best acc {_fmt(info.best['accuracy'], '.3f')}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from nas.recovery import RetryPolicy
    from nas.study import Heartbeat
    from nas.workers import Worker, WorkerOptions, set_torch_threads

    set_torch_threads(args.threads_split)
    options = WorkerOptions(heartbeat=Heartbeat(args.heartbeat, args.grace), max_retries=args.max_retries,
                            retry=RetryPolicy(attempts=args.db_retries), linger=not args.no_linger,
                            accelerator=args.accelerator)
    n = Worker(args.db, study_name=args.study, artifacts=Path(args.artifacts), cache_dir=Path(args.cache_dir),
               name=args.name, options=options).run()
    print(f"worker done: {n} trial(s)")
    return 0


def cmd_spaces(args: argparse.Namespace) -> int:
    from nas.space import list_spaces, load_space

    if args.action == "show":
        if not args.space_name:
            print("usage: nas spaces show NAME", file=sys.stderr)
            return 2
        print("\n".join(load_space(args.space_name).lines()))
        return 0
    for sp in list_spaces():
        print(f"{sp.name:<14} {sp.description}\n{'':<14} families: {', '.join(sp.families)}; "
              f"size: {sp.size_text()}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default {DEFAULT_DB})")
    p.add_argument("--artifacts", default="runs", help="folder for .tflite files and logs (default runs)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run a small study on the built-in synthetic data and print its front")
    _common(p)
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--space", default="demo")
    p.add_argument("--device", action="append", help="hardware profile (repeatable; first is the target)")
    p.add_argument("--name", help="study name (default demo-TIMESTAMP)")
    p.set_defaults(func=cmd_demo)

    study = sub.add_parser("study", help="create, run, show, export and stop studies")
    ssub = study.add_subparsers(dest="study_command", metavar="ACTION", required=True)
    c = ssub.add_parser("create", help="register a study (workers pick it up)")
    _common(c)
    c.add_argument("name", nargs="?")
    c.add_argument("--config", help="study config YAML (fields of StudyConfig); options override it")
    c.add_argument("--dataset"), c.add_argument("--space"), c.add_argument("--sampler")
    c.add_argument("--trials", type=int), c.add_argument("--seed", type=int)
    c.add_argument("--device", action="append"), c.add_argument("--objective", action="append")
    c.add_argument("--max-latency-ms", dest="max_latency_ms", type=float)
    c.add_argument("--min-accuracy", dest="min_accuracy", type=float)
    c.add_argument("--no-precheck", action="store_true")
    c.add_argument("--early-stopping", action="store_true")
    c.set_defaults(func=cmd_create)
    r = ssub.add_parser("run", help="run a study with local worker processes")
    _common(r)
    r.add_argument("name"), r.add_argument("--workers", type=int, default=1)
    r.set_defaults(func=cmd_run)
    s = ssub.add_parser("show", help="status and Pareto front")
    _common(s)
    s.add_argument("name"), s.add_argument("--json", action="store_true")
    s.add_argument("--device", dest="device_name")
    s.set_defaults(func=cmd_show)
    e = ssub.add_parser("export", help="write a trial's .tflite file")
    _common(e)
    e.add_argument("name"), e.add_argument("--trial", type=int, required=True)
    e.add_argument("-o", "--output", required=True)
    e.set_defaults(func=cmd_export)
    st = ssub.add_parser("stop", help="stop handing out trials of a study")
    _common(st)
    st.add_argument("name")
    st.set_defaults(func=cmd_stop)
    ls = ssub.add_parser("list", help="all studies")
    _common(ls)
    ls.set_defaults(func=cmd_list)

    w = sub.add_parser("worker", help="pull trials from running studies until their budgets are spent")
    _common(w)
    w.add_argument("--study", help="only this study")
    w.add_argument("--threads-split", type=int, default=1, help="workers sharing this machine's cores")
    w.add_argument("--name", help="worker name in the records (default HOST:PID)")
    w.add_argument("--cache-dir", default=".nas_cache", help="feature cache folder (default .nas_cache)")
    w.add_argument("--heartbeat", type=int, default=20, help="seconds between heartbeats (default 20)")
    w.add_argument("--grace", type=int, default=60,
                   help="seconds without heartbeat after which a trial counts as lost (default 60)")
    w.add_argument("--max-retries", type=int, default=1, help="re-runs of a lost trial (default 1)")
    w.add_argument("--db-retries", type=int, default=10,
                   help="attempts of a database operation, with exponential backoff (default 10)")
    w.add_argument("--no-linger", action="store_true",
                   help="exit when nothing is left to claim, even while trials run elsewhere")
    w.add_argument("--accelerator", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where to train: auto (CUDA when one is visible, default), cpu, or cuda")
    w.set_defaults(func=cmd_worker)

    sp = sub.add_parser("spaces", help="list the shipped search spaces, or show one")
    sp.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    sp.add_argument("space_name", nargs="?")
    sp.set_defaults(func=cmd_spaces)
