"""Study commands: ``demo``, ``study create|run|show|export|stop``, ``worker``, ``spaces``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from nas.artifacts import find_study_dir
from nas.cli.common import (
    DEFAULT_DEVICE,
    add_artifacts,
    add_db,
    add_objective,
    add_sampler,
    device_help,
    sessions,
    space_help,
)
from nas.errors import ConfigError, NasError
from nas.study.config import StudyConfig

if TYPE_CHECKING:
    from nas.service import FrontPoint


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _split_cells(p: FrontPoint) -> tuple[str, str, str]:
    """``total (frontend+network)`` for latency, RAM and flash (the total alone for older rows)."""
    out = []
    for key, spec in (("latency_ms", ".2f"), ("ram_kb", ".1f"), ("flash_kb", ".1f")):
        total = format(getattr(p, key), spec)
        if p.split and p.split["frontend"][key]:
            total += f" ({format(p.split['frontend'][key], spec)}+{format(p.split['network'][key], spec)})"
        out.append(total)
    return out[0], out[1], out[2]


def print_front(points: list[FrontPoint], folder: Path | None) -> None:
    """The front as a table; columns are as wide as their longest value (architectures are never cut).
    ``folder``: the study's artifacts folder (None: no files on this machine)."""
    rows = [(str(p.number), p.arch, p.frontend, str(p.bits), f"{p.prune_ratio:.2f}", _fmt(p.accuracy, ".3f"),
             _fmt(p.test_accuracy, ".3f"), *_split_cells(p), _fmt(p.energy_uj, ".1f"), _fmt(p.power_mw, ".3f"),
             str(folder / f"trial-{p.number:04d}" / "model.tflite") if folder else "")
            for p in points]
    header = ("trial", "architecture", "frontend", "bits", "prune", "acc", "test", "lat ms (DSP+net)",
              "RAM KB (DSP+net)", "flash KB (DSP+net)", "energy uJ", "power mW", "tflite")
    left = {1, 2, 12}  # text columns
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    print(line(header).rstrip())
    print("-" * len(line(header).rstrip()))
    for r in rows:
        print(line(r).rstrip())
    if points:
        p = points[0]
        print(f"(acc: the exported .tflite in LiteRT on the validation split; test: on the held-out split. "
              f"latency {p.latency_source}, RAM {p.ram_source} on {p.device}"
              + ("" if p.energy_uj is None else f"; energy estimated, power at {p.inference_rate_hz:g} inference/s")
              + ")")


def _config_from_args(args: argparse.Namespace) -> StudyConfig:
    data: dict = {}
    if getattr(args, "config", None):
        try:
            data = yaml.safe_load(Path(args.config).read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"{args.config}: cannot read study config: {e}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{args.config}: a study config must be a mapping")
    for key in ("name", "dataset", "space", "sampler", "seed", "max_latency_ms", "min_accuracy", "warm_start",
                "inference_rate_hz", "max_energy_uj"):
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
    if getattr(args, "no_references", False):
        data["references"] = False
    if getattr(args, "no_fidelity", False):
        data["fidelity"] = None
    elif getattr(args, "eta", None) is not None or getattr(args, "min_rung_epochs", None) is not None:
        fidelity = dict(data.get("fidelity") or {})
        fidelity |= {k: v for k, v in (("eta", args.eta), ("min_epochs", args.min_rung_epochs)) if v is not None}
        data["fidelity"] = fidelity
    return StudyConfig.parse(data)


def _net(seconds: float) -> str:
    """A net saving in words: a negative one is a cost, never printed as a saving."""
    if seconds < 0:
        return f"a net cost of ~{-seconds:.0f} s"
    return f"~{seconds:.0f} s of training saved"


def cmd_demo(args: argparse.Namespace) -> int:
    from nas import service
    from nas.study.worker import run_local_workers

    name = args.name or "demo-" + dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    cfg = StudyConfig.parse({"name": name, "n_trials": args.trials, "dataset": args.dataset, "space": args.space,
                             "devices": args.device or [DEFAULT_DEVICE]})
    make_session = sessions(args.db, create=True)
    with make_session() as s:
        info = service.create_study(s, args.db, cfg)
    print(f"study {info.name}: {cfg.n_trials} trials of space '{cfg.space}' on {cfg.dataset}, "
          f"{args.workers} workers, device {cfg.devices[0]}, database {args.db}", flush=True)
    run_local_workers(args.db, name, args.workers, artifacts=Path(args.artifacts))
    with make_session() as s:
        info = service.study_info(s, name)
        points = service.pareto(s, name)
    print(f"\nPareto front of {name} ({info.finished} trials, {info.feasible} feasible, {info.failed} failed; "
          f"hypervolume {_fmt(info.hypervolume, '.4f')}):")
    print_front(points, find_study_dir(Path(args.artifacts), name, info.created_at))
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    from nas import service

    cfg = _config_from_args(args)
    with sessions(args.db, create=True)() as s:
        info = service.create_study(s, args.db, cfg)
    print(f"created study {info.name} ({info.budget} trials); run it with: nas study run {info.name} --db {args.db}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from nas import service
    from nas.study.worker import run_local_workers

    with sessions(args.db)() as s:
        service.resume_study(s, args.name)
    run_local_workers(args.db, args.name, args.workers, artifacts=Path(args.artifacts))
    with sessions(args.db)() as s:
        info = service.study_info(s, args.name)
    if info.status == "failed":
        raise NasError(f"study {info.name} failed: {info.failure_reason}")
    return cmd_show(args)


def cmd_show(args: argparse.Namespace) -> int:
    from nas import service

    with sessions(args.db)() as s:
        info = service.study_info(s, args.name)
        points = service.pareto(s, args.name, device=getattr(args, "device_name", None))
        saved = service.study_savings(s, args.name)
        effort = service.study_effort(s, args.name)
    if getattr(args, "json", False):
        print(json.dumps({"study": info.to_dict(), "pareto": [p.to_dict() for p in points], "savings": saved,
                          "effort": effort}, indent=2))
        return 0
    print(f"study {info.name}: {info.status}, {info.finished}/{info.budget} trials "
          f"({info.feasible} feasible, {info.failed} failed), hypervolume {_fmt(info.hypervolume, '.4f')}")
    if info.failure_reason:
        print(f"why it failed: {info.failure_reason}")
    print(f"precheck: {saved['precheck_skipped']} candidate(s) not trained; {_net(saved['precheck_saved_s'])} "
          f"(the prechecks took {saved['precheck_cost_s']:.0f} s); early stopping: {saved['stopped_early']} "
          f"stopped, {_net(saved['early_saved_s'])}")
    rungs = "; ".join(f"epoch {e}: {p}/{n} promoted" for e, n, p in effort["rungs"])
    print(f"effort: {effort['epochs']} epochs, {effort['dominated_epoch_share']:.0%} of them on candidates off the "
          f"front of {effort['front_size']}; {effort['outside_training_share']:.0%} of {effort['wall_s']:.0f} "
          f"worker-seconds outside training"
          + (f"; rungs: {rungs}" if rungs else ""))
    if effort["wall_s"]:
        print("  worker time by phase: " + ", ".join(f"{k} {v / effort['wall_s']:.0%}" for k, v in
                                                     sorted(effort["phases"].items(), key=lambda kv: -kv[1])))
    print_front(points, find_study_dir(Path(args.artifacts), info.name, info.created_at))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from nas import service

    if args.format == "c":
        from nas.service.firmware import export_firmware

        with sessions(args.db)() as s:
            bundle = export_firmware(s, args.name, args.trial, Path(args.output), device=args.target_device)
        m, c = bundle.manifest, bundle.manifest["c"]
        print(f"wrote {', '.join(sorted(bundle.files))} to {args.output}/ for {m['device']['name']}: "
              f"{c['length']} bytes, kTensorArenaSize {c['kTensorArenaSize']} "
              f"(arena {m['device']['arena_kb']:.1f} KB + {c['arena_margin']:.0%}), ops {', '.join(c['ops'])}")
        return 0
    with sessions(args.db)() as s:
        data = service.export_model(s, args.name, args.trial)
    Path(args.output).write_bytes(data)
    print(f"wrote {args.output} ({len(data)} bytes)")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from nas import service

    with sessions(args.db)() as s:
        info = service.stop_study(s, args.name)
    print(f"study {info.name}: {info.status}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from nas import service

    with sessions(args.db)() as s:
        for info in service.list_studies(s):
            print(f"{info.name:<32} {info.status:<9} {info.finished:>5}/{info.budget:<5} "
                  f"best acc {_fmt(info.best['accuracy'], '.3f')}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from nas.study.recovery import RetryPolicy
    from nas.study.sampler import Heartbeat
    from nas.study.worker import Worker, WorkerOptions, set_torch_threads

    set_torch_threads(args.threads_split)
    options = WorkerOptions(heartbeat=Heartbeat(args.heartbeat, args.grace), max_retries=args.max_retries,
                            retry=RetryPolicy(attempts=args.db_retries), linger=not args.no_linger,
                            accelerator=args.accelerator)
    worker = Worker(args.db, study_name=args.study, artifacts=Path(args.artifacts), cache_dir=Path(args.cache_dir),
                    name=args.name, options=options)
    if args.on_sigterm == "finish":  # docker stop, systemctl stop, the supervisor of 'nas serve'
        signal.signal(signal.SIGTERM, lambda _sig, _frame: worker.request_stop())
    n = worker.run()
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
    add_db(p)
    add_artifacts(p)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run a small study on the built-in synthetic data and print its front")
    _common(p)
    p.add_argument("--trials", type=int, default=12, help="trials in the study's budget (default 12)")
    p.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    p.add_argument("--dataset", default="synthetic", metavar="SPEC",
                   help="dataset spec: synthetic[:N], fsdd:PATH, fsdd-speaker:PATH[:SPEAKER], folder:PATH, ... "
                        "(default synthetic; see the README's Datasets section)")
    p.add_argument("--space", default="demo", help=space_help() + " (default demo)")
    p.add_argument("--device", action="append", metavar="DEVICE",
                   help=device_help("hardware profile, repeatable; the first is where objectives are taken")
                   + f" (default {DEFAULT_DEVICE})")
    p.add_argument("--name", help="study name (default demo-TIMESTAMP)")
    p.set_defaults(func=cmd_demo)

    study = sub.add_parser("study", help="create, run, show, export and stop studies")
    ssub = study.add_subparsers(dest="study_command", metavar="ACTION", required=True)
    c = ssub.add_parser("create", help="register a study (workers pick it up)")
    _common(c)
    c.add_argument("name", nargs="?", help="study name (or 'name:' in --config)")
    c.add_argument("--config", metavar="YAML", help="study config YAML (fields of StudyConfig); options override it")
    c.add_argument("--dataset", metavar="SPEC", help="dataset spec, e.g. fsdd-speaker:PATH:theo, or a name from "
                                                    "'nas datasets list' (default synthetic)")
    c.add_argument("--space", help=space_help() + " (default demo)")
    add_sampler(c)
    c.add_argument("--trials", type=int, help="the budget: exactly this many trials are recorded (default 12)")
    c.add_argument("--seed", type=int, help="sampler seed (default 0)")
    c.add_argument("--device", action="append", metavar="DEVICE",
                   help=device_help("hardware profile, repeatable; the first is where objectives are taken")
                   + f" (default {DEFAULT_DEVICE})")
    add_objective(c)
    c.add_argument("--max-latency-ms", dest="max_latency_ms", type=float, metavar="MS",
                   help="hard constraint: latency on the first device at most MS")
    c.add_argument("--min-accuracy", dest="min_accuracy", type=float, metavar="ACC",
                   help="hard constraint: validation accuracy of the .tflite at least ACC (0-1)")
    c.add_argument("--max-energy-uj", dest="max_energy_uj", type=float, metavar="UJ",
                   help="hard constraint: energy per inference on the first device at most UJ microjoules")
    c.add_argument("--inference-rate-hz", dest="inference_rate_hz", type=float, metavar="HZ",
                   help="inferences per second the power_mw objective is taken at (default 1)")
    c.add_argument("--no-precheck", action="store_true",
                   help="train every candidate, without pricing its untrained export first")
    c.add_argument("--early-stopping", action="store_true",
                   help="stop training candidates that cannot plausibly reach the front (docs/studies.md)")
    c.add_argument("--no-fidelity", action="store_true",
                   help="train every candidate for its full epochs (default: multi-fidelity rungs, docs/studies.md)")
    c.add_argument("--eta", type=int, metavar="N",
                   help="multi-fidelity: each rung keeps the best 1/N of the candidates that reach it (default 3)")
    c.add_argument("--min-rung-epochs", dest="min_rung_epochs", type=int, metavar="E",
                   help="multi-fidelity: epochs before the first rung; later rungs at E*N, E*N*N, ... (default 2)")
    c.add_argument("--no-references", action="store_true",
                   help="do not start with the space's reference models ('nas spaces show SPACE' lists them)")
    c.add_argument("--warm-start", dest="warm_start", metavar="STUDY",
                   help="start with the feasible front of an earlier study in this database (points this space "
                        "cannot express are left out)")
    c.set_defaults(func=cmd_create)
    r = ssub.add_parser("run", help="run a study with local worker processes")
    _common(r)
    r.add_argument("name", help="study name")
    r.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    r.set_defaults(func=cmd_run)
    s = ssub.add_parser("show", help="status and Pareto front")
    _common(s)
    s.add_argument("name", help="study name")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--device", dest="device_name", metavar="DEVICE",
                   help="the front on this device of the study (default its first)")
    s.set_defaults(func=cmd_show)
    e = ssub.add_parser("export", help="write a trial's .tflite file, or C sources + manifest for TFLite-Micro")
    _common(e)
    e.add_argument("name", help="study name")
    e.add_argument("--trial", type=int, required=True, metavar="N", help="trial number (as in the front table)")
    e.add_argument("--format", choices=("tflite", "c"), default="tflite",
                   help="tflite: the file (default); c: model_data.h/.cc, manifest.json and model.tflite in a "
                        "directory (docs/deploy.md)")
    e.add_argument("--device", dest="target_device", metavar="DEVICE", default=None,
                   help="--format c: the board whose arena size and figures go into the files (default the "
                        "study's first device)")
    e.add_argument("-o", "--output", required=True, metavar="PATH",
                   help="the .tflite file to write, or the directory for --format c")
    e.set_defaults(func=cmd_export)
    st = ssub.add_parser("stop", help="stop handing out trials of a study")
    _common(st)
    st.add_argument("name", help="study name")
    st.set_defaults(func=cmd_stop)
    ls = ssub.add_parser("list", help="all studies")
    _common(ls)
    ls.set_defaults(func=cmd_list)

    w = sub.add_parser("worker", help="pull trials from running studies until their budgets are spent")
    _common(w)
    w.add_argument("--study", help="only this study (default: any running study)")
    w.add_argument("--threads-split", type=int, default=1, metavar="N",
                   help="workers sharing this machine's cores: each uses 1/N of them (default 1)")
    w.add_argument("--name", help="worker name in the records (default HOST:PID)")
    w.add_argument("--cache-dir", default=".nas_cache", metavar="DIR", help="feature cache folder (default .nas_cache)")
    w.add_argument("--heartbeat", type=int, default=20, metavar="S", help="seconds between heartbeats (default 20)")
    w.add_argument("--grace", type=int, default=60, metavar="S",
                   help="seconds without heartbeat after which a trial counts as lost (default 60)")
    w.add_argument("--max-retries", type=int, default=1, metavar="N", help="re-runs of a lost trial (default 1)")
    w.add_argument("--db-retries", type=int, default=10, metavar="N",
                   help="attempts of a database operation, with exponential backoff (default 10)")
    w.add_argument("--no-linger", action="store_true",
                   help="exit when nothing is left to claim, even while trials run elsewhere")
    w.add_argument("--on-sigterm", choices=["finish", "exit"], default="finish",
                   help="finish (default): claim no more trials, record the one under way, exit 0; exit: die at "
                        "once, the trial is re-run by heartbeat recovery (SLURM's scancel: docs/operations.md)")
    w.add_argument("--accelerator", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where to train: auto (CUDA when one is visible, default), cpu, or cuda")
    w.set_defaults(func=cmd_worker)

    sp = sub.add_parser("spaces", help="list the shipped search spaces, or show one")
    sp.add_argument("action", nargs="?", choices=["list", "show"], default="list",
                    help="list (default) or show one space with every range")
    sp.add_argument("space_name", nargs="?", metavar="NAME", help="the space to show (a name or a YAML path)")
    sp.set_defaults(func=cmd_spaces)
