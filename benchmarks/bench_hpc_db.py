"""How many workers one PostgreSQL server holds: connections and writes with 8 and 16 worker processes.

1. real ``nas worker`` processes (the command line of deploy/slurm/worker.sbatch: heartbeat 20 s, grace
   120 s, URL from $NAS_DB) on a tiny study, one trial per worker by default: peak and mean connections
   to the study's database, commits and row writes per second and per trial (pg_stat_database), the
   CPU time of the database's backends against the workers' CPU time;
2. the database's own ceiling for the statements every worker repeats: N client processes (no torch)
   loop for a few seconds over the budget claim (the one-row ``UPDATE ... WHERE claimed < budget`` of
   nas.study.store.claim_slot, on the study's row that every worker shares) and Optuna's heartbeat write.

Usage: PYTHONPATH=. python benchmarks/bench_hpc_db.py [--workers 8,16] [--trials-per-worker 1]
(about 4 minutes on 2 cores; each worker process needs ~0.6 GB of memory; PostgreSQL from $NAS_TEST_PG or
postgresql+psycopg://postgres@127.0.0.1:5432, a database created and dropped per run).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, text  # noqa: E402

SERVER = os.environ.get("NAS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
SPACE = REPO / "tests" / "fixtures" / "tiny_space.yaml"
TICK = os.sysconf("SC_CLK_TCK")
STATS = "xact_commit, tup_inserted + tup_updated + tup_deleted, tup_returned + tup_fetched"


class Database:
    """A fresh database on SERVER for one measurement, dropped afterwards."""

    def __init__(self) -> None:
        self.name = f"nas_bench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
        self.url = f"{SERVER}/{self.name}"

    def __enter__(self) -> Database:
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self

    def __exit__(self, *exc) -> None:
        with self.admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()

    def settled_stats(self, timeout: float = 60) -> tuple[int, int, int]:
        """The statistics once every backend of the database has exited (each flushes its counts then)."""
        deadline = time.monotonic() + timeout
        with self.admin.connect() as c:
            while time.monotonic() < deadline and c.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"), {"d": self.name}).scalar():
                time.sleep(0.2)
        time.sleep(0.5)
        return self.stats()

    def stats(self) -> tuple[int, int, int]:
        with self.admin.connect() as c:
            row = c.execute(text(f"SELECT {STATS} FROM pg_stat_database WHERE datname = :d"), {"d": self.name}).one()
        return int(row[0]), int(row[1]), int(row[2])


class Watch(threading.Thread):
    """Samples the database's connections and its backends' CPU time every half second."""

    def __init__(self, db: Database):
        super().__init__(daemon=True)
        self.db, self.stop = db, threading.Event()
        self.samples: list[int] = []
        self.cpu: dict[int, float] = {}  # backend pid -> last seen CPU seconds

    def run(self) -> None:
        with self.db.admin.connect() as c:
            while not self.stop.wait(0.5):
                pids = c.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"),
                                 {"d": self.db.name}).scalars().all()
                self.samples.append(len(pids))
                for pid in pids:
                    try:
                        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                        self.cpu[pid] = (int(f[11]) + int(f[12])) / TICK
                    except (OSError, IndexError):
                        pass  # not on this machine, or gone

    def result(self) -> tuple[int, float, float]:
        self.stop.set()
        self.join()
        busy = [n for n in self.samples if n]
        return max(self.samples, default=0), sum(busy) / max(1, len(busy)), sum(self.cpu.values())


def available_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2**20
    return float("inf")


def create_study(url: str, name: str, budget: int) -> None:
    from nas import service
    from nas.study.config import StudyConfig
    from nas.study.tables import make_engine, make_sessionmaker

    cfg = StudyConfig.parse({"name": name, "dataset": "synthetic:160", "space": str(SPACE), "n_trials": budget,
                             "devices": ["nucleo-l4r5zi"]})
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        service.create_study(s, url, cfg)
    engine.dispose()


def real_workers(n: int, per_worker: int, folder: Path) -> dict[str, float]:
    with Database() as db:
        create_study(db.url, "bench", n * per_worker)
        env = {**os.environ, "NAS_DB": db.url, "PYTHONPATH": str(REPO), "LITERT_TORCH_SHOW_PROGRESS": "n"}
        before, watch = db.settled_stats(), Watch(db)  # the study creation's catalog writes flushed first
        usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        watch.start()
        procs = [subprocess.Popen([sys.executable, "-m", "nas", "worker", "--study", "bench", "--name", f"w{i}",
                                   "--threads-split", str(n), "--heartbeat", "20", "--grace", "120",
                                   "--artifacts", str(folder / f"runs-{n}"), "--cache-dir", str(folder / f"c{n}-{i}")],
                                  env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for i in range(n)]
        errors = [p.communicate()[1] for p in procs]
        wall = time.perf_counter() - t0
        peak, mean, db_cpu = watch.result()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        after = db.settled_stats()
        engine = create_engine(db.url)
        with engine.connect() as c:
            trials = int(c.execute(text("SELECT count(*) FROM nas_trials")).scalar() or 0)
        engine.dispose()
    bad = [e.decode()[-400:] for p, e in zip(procs, errors, strict=True) if p.returncode]
    if bad:
        raise SystemExit(f"{len(bad)} worker(s) failed:\n{bad[0]}")
    commits, writes, reads = (a - b for a, b in zip(after, before, strict=True))
    worker_cpu = (usage.ru_utime + usage.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    return {"wall": wall, "trials": trials, "peak": peak, "mean": mean, "per_worker": peak / n,
            "commits_s": commits / wall, "writes_s": writes / wall, "reads_s": reads / wall,
            "commits_trial": commits / max(1, trials), "writes_trial": writes / max(1, trials),
            "db_cpu": db_cpu, "worker_cpu": worker_cpu, "db_share": db_cpu / max(1e-9, db_cpu + worker_cpu)}


def _client(url: str, study_id: int, seconds: float, ready, go, out) -> None:
    """One client: the claim UPDATE and a heartbeat, each committed, until ``seconds`` are over."""
    import optuna
    from sqlalchemy import update

    from nas import optuna_private
    from nas.study.tables import StudyRow

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore")  # Optuna's notes on heartbeats outside optimize()
    engine = create_engine(url, pool_pre_ping=True)  # the workers' engine options (nas.study.tables.engine_kwargs)
    storage = optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True}, heartbeat_interval=20,
                                         grace_period=120)
    trial_id = optuna_private.trial_id(optuna.load_study(study_name="bench", storage=storage).ask())
    claim = (update(StudyRow).where(StudyRow.id == study_id, StudyRow.claimed < StudyRow.budget,
                                    StudyRow.status == "running").values(claimed=StudyRow.claimed + 1))
    ready.put(1)
    go.wait()
    claims = beats = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with engine.begin() as c:
            c.execute(claim)
        claims += 1
        storage.record_heartbeat(trial_id)
        beats += 1
    out.put((claims, beats))


def ceiling(n: int, seconds: float) -> dict[str, float]:
    with Database() as db:
        create_study(db.url, "bench", 100_000)  # the largest budget; a spent one costs the same UPDATE
        engine = create_engine(db.url)
        with engine.connect() as c:
            study_id = int(c.execute(text("SELECT id FROM nas_studies")).scalar_one())
        engine.dispose()
        ctx = mp.get_context("spawn")
        ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_client, args=(db.url, study_id, seconds, ready, go, out)) for _ in range(n)]
        for p in procs:
            p.start()
        for _ in procs:  # every client connected, with its trial, before the clock starts
            ready.get(timeout=300)
        watch = Watch(db)
        watch.start()
        go.set()
        results = [out.get(timeout=seconds + 120) for _ in procs]
        for p in procs:
            p.join()
        _, _, db_cpu = watch.result()
    claims = sum(r[0] for r in results)
    beats = sum(r[1] for r in results)
    return {"claims_s": claims / seconds, "beats_s": beats / seconds, "commits_s": (claims + beats) / seconds,
            "db_cpu_share": db_cpu / (seconds * (os.cpu_count() or 1))}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", default="8,16", help="worker counts, comma-separated (default 8,16)")
    ap.add_argument("--trials-per-worker", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each ceiling run (default 8)")
    ap.add_argument("--trial-minutes", type=float, default=2.0,
                    help="a real trial's length, for the workers-per-server estimate (default 2)")
    ap.add_argument("--skip-workers", action="store_true", help="only the database ceiling (part 2)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")  # Optuna's deprecation and experimental notes
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    counts = [int(x) for x in args.workers.split(",")]
    with create_engine(f"{SERVER}/postgres").connect() as c:
        max_conn = int(c.execute(text("SHOW max_connections")).scalar_one())
        version = str(c.execute(text("SHOW server_version")).scalar_one())
        sync = str(c.execute(text("SHOW synchronous_commit")).scalar_one())
    print(f"PostgreSQL {version} at {SERVER.split('@')[-1]} (max_connections {max_conn}, synchronous_commit "
          f"{sync}), {os.cpu_count()} cores; "
          f"tiny study ({SPACE.name}, synthetic:160), {args.trials_per_worker} trial(s) per worker", flush=True)

    real: dict[int, dict[str, float]] = {}
    if not args.skip_workers:
        with tempfile.TemporaryDirectory(prefix="bench-hpc-") as tmp:
            for n in counts:
                if available_gb() < 0.7 * n:
                    print(f"   {n} workers: skipped, {available_gb():.1f} GB of memory available and each worker "
                          f"needs ~0.6 GB", flush=True)
                    continue
                real[n] = real_workers(n, args.trials_per_worker, Path(tmp))
                print(f"   {n} workers: {real[n]['wall']:.0f} s", flush=True)
    if real:
        cols = "".join(f"{str(n) + ' workers':>14}" for n in real)
        print("\n1. real `nas worker` processes (heartbeat 20 s)")
        print(f"   {'':<34}{cols}")
        for label, key, spec in (("wall s", "wall", ".0f"), ("trials recorded", "trials", ".0f"),
                                 ("connections, peak", "peak", ".0f"), ("connections, mean", "mean", ".1f"),
                                 ("connections per worker (peak)", "per_worker", ".2f"),
                                 ("commits / s", "commits_s", ".1f"), ("row writes / s", "writes_s", ".1f"),
                                 ("rows read / s", "reads_s", ".0f"), ("commits per trial", "commits_trial", ".0f"),
                                 ("row writes per trial", "writes_trial", ".0f"),
                                 ("database backends CPU s", "db_cpu", ".1f"), ("workers CPU s", "worker_cpu", ".0f"),
                                 ("database share of CPU", "db_share", ".1%")):
            print(f"   {label:<34}" + "".join(f"{format(real[n][key], spec):>14}" for n in real))

    cap = {n: ceiling(n, args.seconds) for n in counts}
    print(f"\n2. database ceiling: N clients looping claim + heartbeat, {args.seconds:g} s each")
    ccols = "".join(f"{str(n) + ' clients':>14}" for n in counts)
    print(f"   {'':<34}{ccols}")
    for label, key, spec in (("budget claims / s (one row)", "claims_s", ".0f"),
                             ("heartbeats / s", "beats_s", ".0f"), ("commits / s", "commits_s", ".0f"),
                             ("database share of all cores", "db_cpu_share", ".0%")):
        print(f"   {label:<34}" + "".join(f"{format(cap[n][key], spec):>14}" for n in counts))

    if real:
        n = max(real)
        per_trial = real[n]["commits_trial"]
        per_worker_s = per_trial / (args.trial_minutes * 60) + 1 / 20  # its trials' commits + heartbeats
        by_rate = max(c["commits_s"] for c in cap.values()) / per_worker_s
        by_conn = (max_conn - 3) / real[n]["per_worker"]  # a few connections stay for superuser and admin
        print(f"\n   one server, {args.trial_minutes:g}-minute trials: ~{per_worker_s:.2f} commits/s per worker "
              f"-> the write ceiling allows ~{by_rate:.0f} workers; max_connections {max_conn} at "
              f"{real[n]['per_worker']:.1f} per worker allows ~{by_conn:.0f}: the limit is "
              f"{'connections' if by_conn < by_rate else 'write throughput'}", flush=True)


if __name__ == "__main__":
    main()
