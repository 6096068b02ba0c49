"""``deploy/slurm/worker.sbatch`` under a real SLURM scheduler: a single-node cluster (Debian's
``slurm-wlm`` and ``munge``; ``munged``, ``slurmctld`` and ``slurmd`` on localhost, configured by files
written here) runs ``sbatch --array=0-1`` against a fresh PostgreSQL database holding a small study.

Both array tasks join; ``scancel`` of one mid-trial has its trial re-run by the other; ``scontrol requeue``
of the other mid-trial restarts it as a fresh worker (``...-r1``) that re-runs its lost trial; the study
records exactly its budget, no trial twice; the logs land where the script says; the database URL never
appears on a command line; the finished task exits 0 and removes its node-local work folder.

The script's own checks (URL from a file readable only by its owner, clear one-line refusals) run
without a scheduler, and so does a worker started by the script on a stopped study (a clean exit 0).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from sqlalchemy import select

from nas import service
from nas.study.config import StudyConfig
from nas.study.tables import StudyRow, TrialRow, make_engine, make_sessionmaker

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "slurm" / "worker.sbatch"
VENV = Path(sys.executable).parent.parent  # the venv running the tests runs the jobs too (CI: the checkout's)
NODE = "nasnode"
N_TRIALS = 6
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo")
MISSING = [d for d in DAEMONS if shutil.which(d) is None and not Path("/usr/sbin", d).exists()]


def _bin(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlurmCluster:
    """munged + slurmctld + slurmd of one node on localhost, everything under ``root`` (a short path:
    the munge socket's path must fit a Unix socket name)."""

    def __init__(self, root: Path):
        self.root = root
        self.conf = root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.procs: list[subprocess.Popen] = []

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.out", "wb")  # the child keeps its own copy
        self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env))
        log.close()

    def start(self) -> None:
        r = self.root
        for d in ("munge", "state", "spool", "log"):
            (r / d).mkdir(mode=0o700)
        (r / "munge").chmod(0o711)  # clients (the job's user) reach the socket
        key = r / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        sock = r / "munge" / "munge.socket"
        self._spawn("munged", [_bin("munged"), "-F", "--force", f"--socket={sock}", f"--key-file={key}",
                               f"--pid-file={r / 'munge' / 'munged.pid'}", f"--log-file={r / 'log' / 'munged.log'}",
                               f"--seed-file={r / 'munge' / 'seed'}"])
        hw = subprocess.run([_bin("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
        cpus = re.search(r"CPUs=(\d+)", hw)
        mem = re.search(r"RealMemory=(\d+)", hw)
        host = socket.gethostname().split(".")[0]
        assert cpus and mem, hw
        self.cpus = int(cpus.group(1))
        self.conf.write_text(f"""\
ClusterName=nastest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also delays the restart of a requeued job (default 120 s)
AuthInfo=socket={sock},cred_expire=5
StateSaveLocation={r / 'state'}
SlurmdSpoolDir={r / 'spool'}
SlurmctldPidFile={r / 'slurmctld.pid'}
SlurmdPidFile={r / 'slurmd.pid'}
SlurmctldLogFile={r / 'log' / 'slurmctld.log'}
SlurmdLogFile={r / 'log' / 'slurmd.log'}
# no cgroups in a container: processes tracked by parent id, no CPU binding, no accounting
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
KillWait=10
MinJobAge=3600
NodeName={NODE} NodeHostname={host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={mem.group(1)} State=UNKNOWN
PartitionName=nas Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
""")
        self._wait(lambda: sock.exists(), "munged's socket", 10)
        self._spawn("slurmctld", [_bin("slurmctld"), "-D", "-c", "-f", str(self.conf)])
        self._spawn("slurmd", [_bin("slurmd"), "-D", "-N", NODE, "-f", str(self.conf)])
        self._wait(lambda: self.run("sinfo", "-h", "-o", "%T", check=False).strip() == "idle", "an idle node", 30)

    def _wait(self, ok, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ok():
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"SLURM test cluster: no {what} after {timeout} s\n{self.logs()}")
            time.sleep(0.3)

    def logs(self) -> str:
        return "\n".join(f"--- {f.name}\n" + "\n".join(f.read_text(errors="replace").splitlines()[-15:])
                         for f in sorted((self.root / "log").iterdir()))

    def run(self, *cmd: str, check: bool = True, **kw) -> str:
        res = subprocess.run([_bin(cmd[0]), *cmd[1:]], capture_output=True, text=True, env=self.env, **kw)
        if check and res.returncode:
            raise AssertionError(f"{' '.join(cmd)}: exit {res.returncode}: {res.stderr.strip()}")
        return res.stdout

    def job(self, job: str) -> dict[str, str]:
        """``scontrol show job``'s fields of one job (kept MinJobAge seconds after it ends)."""
        out = self.run("scontrol", "show", "job", "-o", job)
        return dict(f.split("=", 1) for f in out.split() if "=" in f)

    def queue(self) -> list[str]:
        return self.run("squeue", "-h", "-o", "%i %T", check=False).splitlines()

    def stop(self) -> None:
        jobs = self.run("squeue", "-h", "-o", "%A", check=False).split()
        if jobs:
            self.run("scancel", *jobs, check=False)
            deadline = time.monotonic() + 30
            while self.queue() and time.monotonic() < deadline:
                time.sleep(0.5)
        for p in reversed(self.procs):  # slurmd, slurmctld, munged
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def slurm() -> Iterator[SlurmCluster]:
    if MISSING:
        pytest.skip(f"SLURM not installed ({', '.join(MISSING)} missing): scripts/system-deps.sh installs "
                    f"Debian's slurm-wlm and munge as root")
    if os.geteuid() != 0:
        pytest.skip("the single-node SLURM cluster runs slurmd as root (SlurmdUser=root); run the tests as root")
    if not (VENV / "bin" / "nas").exists():
        pytest.skip(f"the jobs run {VENV}/bin/nas (the venv running the tests), which is missing: pip install -e .")
    root = Path(tempfile.mkdtemp(prefix="nas-slurm-", dir="/tmp"))
    cluster = SlurmCluster(root)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def _script_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment a user submits with: the checkout's venv, and this checkout's code first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAS_", "SLURM_"))}
    return {**env, "NAS_VENV": str(VENV), "PYTHONPATH": str(REPO), "NAS_ARTIFACTS": str(tmp / "runs"),
            "NAS_SCRATCH": str(tmp / "scratch"), "HOME": str(tmp / "home"), **extra}


def _url_file(folder: Path, url: str, mode: int = 0o600) -> Path:
    path = folder / "db-url"
    path.write_text(url + "\n")
    path.chmod(mode)
    return path


def _joined(ostudy: optuna.Study) -> dict[str, list[optuna.trial.FrozenTrial]]:
    """Worker name -> the trials it started."""
    out: dict[str, list[optuna.trial.FrozenTrial]] = {}
    for t in ostudy.get_trials(deepcopy=False):
        if "worker" in t.user_attrs:
            out.setdefault(t.user_attrs["worker"], []).append(t)
    return out


def _running(ostudy: optuna.Study, worker: str, recorded: set[int], fresh: bool) -> optuna.trial.FrozenTrial | None:
    """A trial ``worker`` has under way (``fresh``: a first attempt, not a retry)."""
    for t in _joined(ostudy).get(worker, []):
        if (t.state == optuna.trial.TrialState.RUNNING and "pid" in t.user_attrs and t.number not in recorded
                and not (fresh and "retry_of" in t.user_attrs)):
            return t
    return None


def _until(what: str, fn, timeout: float, cluster: SlurmCluster):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.3)
    logs = "\n".join(f"--- {f}\n{f.read_text()[-2500:]}" for f in sorted(Path.cwd().glob("logs/*")))
    raise AssertionError(f"no {what} within {timeout} s; queue {cluster.queue()}\n{logs}")


def _cmdlines() -> list[str]:
    """Every process's command line, as ``ps`` shows it to any user."""
    out = []
    for p in Path("/proc").glob("[0-9]*"):
        try:
            out.append((p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip())
        except OSError:
            pass
    return out


@pytest.mark.slurm
@pytest.mark.postgres
@pytest.mark.slow
def test_sbatch_array_cancel_and_requeue_keep_the_budget_exact(slurm, pg_url, tmp_path, tiny_space_path,
                                                                monkeypatch):
    sessions = make_sessionmaker(make_engine(pg_url))
    cfg = StudyConfig.parse({"name": "hpc", "dataset": "synthetic:160", "space": str(tiny_space_path),
                             "n_trials": N_TRIALS, "devices": ["nucleo-l4r5zi"]})
    with sessions() as s:
        service.create_study(s, pg_url, cfg)
        study_id = s.scalars(select(StudyRow.id)).one()
    ostudy = optuna.load_study(study_name=cfg.name, storage=pg_url)
    submit = tmp_path / "submit"
    (submit / "logs").mkdir(parents=True)  # SLURM opens --output before the script runs; the docs say mkdir
    monkeypatch.chdir(submit)
    env = _script_env(tmp_path, NAS_DB_URL_FILE=str(_url_file(tmp_path, pg_url)), NAS_HEARTBEAT="1",
                      NAS_GRACE="4", NAS_STUDY=cfg.name, SLURM_CONF=str(slurm.conf))
    cpus = "1" if slurm.cpus < 4 else "2"  # both tasks at once on this node
    out = subprocess.run([_bin("sbatch"), "--parsable", "--array=0-1", f"--cpus-per-task={cpus}", "--mem=1G",
                          str(SCRIPT)], cwd=submit, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    array = out.stdout.strip().split(";")[0]
    names = {i: f"{NODE}-{array}_{i}" for i in (0, 1)}

    def recorded() -> set[int]:
        with sessions() as s:
            return set(s.scalars(select(TrialRow.number).where(TrialRow.study_id == study_id)))

    # Both tasks join; cancel the one whose trial is under way.
    def victim():
        joined = _joined(ostudy)
        if not all(n in joined for n in names.values()):
            return None
        done = recorded()
        return next(((i, t) for i, n in names.items() if (t := _running(ostudy, n, done, fresh=True))), None)

    cancelled, lost = _until("trial under way in both tasks", victim, 150, slurm)
    survivor = 1 - cancelled
    cmdlines = _cmdlines()  # what `ps` shows every user: the workers run, and no URL is to be seen
    assert all(any(f"--name {n} " in c for c in cmdlines) for n in names.values()), cmdlines
    assert not [c for c in cmdlines if pg_url in c]
    slurm.run("scancel", f"{array}_{cancelled}")

    # The survivor re-runs it; requeue the survivor in the middle of its next first-attempt trial.
    retried = _until(f"re-run of trial {lost.number}", lambda: any(
        t.user_attrs.get("retry_of") == lost.number and t.state == optuna.trial.TrialState.COMPLETE
        for t in ostudy.get_trials(deepcopy=False)), 120, slurm)
    assert retried
    lost2 = _until("trial under way in the survivor", lambda: _running(ostudy, names[survivor], recorded(), True),
                   90, slurm)
    slurm.run("scontrol", "requeue", f"{array}_{survivor}")
    _until("end of the array job", lambda: not slurm.queue(), 180, slurm)

    # The study: exactly its budget, no trial twice, both lost trials re-run with their parameters.
    with sessions() as s:
        study = s.get(StudyRow, study_id)
        trials = s.scalars(select(TrialRow).where(TrialRow.study_id == study_id)).all()
    numbers = [t.number for t in trials]
    assert study is not None and study.status == "finished"
    assert len(trials) == N_TRIALS and len(set(numbers)) == N_TRIALS
    assert not [t for t in trials if t.status == "failed"], [t.reason for t in trials]
    for gone in (lost, lost2):
        assert gone.number not in numbers
        rerun = [t for t in trials if t.details.get("retry_of") == gone.number]
        assert len(rerun) == 1 and rerun[0].candidate == gone.user_attrs["candidate"]
    requeued = f"{names[survivor]}-r1"
    assert {names[survivor], requeued} <= {t.worker for t in trials}
    assert set(_joined(optuna.load_study(study_name=cfg.name, storage=pg_url))) == {*names.values(), requeued}

    # SLURM's view: the cancelled task CANCELLED, the requeued one restarted once and exited 0.
    gone_job, done_job = slurm.job(f"{array}_{cancelled}"), slurm.job(f"{array}_{survivor}")
    assert gone_job["JobState"] == "CANCELLED", gone_job
    assert (done_job["JobState"], done_job["ExitCode"], done_job["Restarts"]) == ("COMPLETED", "0:0", "1"), done_job

    # The logs where the script's --output says (appended across the restart); work folders removed.
    log_done = (submit / "logs" / f"nas-worker-{array}_{survivor}.out").read_text()
    log_gone = (submit / "logs" / f"nas-worker-{array}_{cancelled}.out").read_text()
    assert f"nas-worker: {names[cancelled]} on " in log_gone and "worker done" not in log_gone
    assert "restart 0," in log_done and f"nas-worker: {requeued} on " in log_done
    assert re.search(r"worker done: \d+ trial\(s\)", log_done), log_done
    assert f"nas-worker: {requeued} exited with status 0" in log_done
    assert pg_url not in log_done + log_gone
    assert not list((tmp_path / "scratch").iterdir())


def _bash(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT)], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_script_refuses_a_database_url_others_can_read(tmp_path):
    (tmp_path / "home").mkdir()
    loose = _url_file(tmp_path, "postgresql+psycopg://u:secret@db/nas", 0o644)
    res = _bash(_script_env(tmp_path, NAS_DB_URL_FILE=str(loose)), tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip() == (f"nas-worker: {loose}: readable by others (mode 644); run: chmod 600 {loose}")
    assert "secret" not in res.stdout + res.stderr

    res = _bash(_script_env(tmp_path), tmp_path)  # neither the variable nor ~/.nas-db-url
    assert res.returncode == 2 and "set NAS_DB_URL, or put the URL in" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1

    loose.chmod(0o600)
    res = _bash(_script_env(tmp_path, NAS_DB_URL_FILE=str(loose), NAS_VENV=str(tmp_path / "novenv")), tmp_path)
    assert res.returncode == 2 and res.stderr.strip() == (
        f"nas-worker: {tmp_path / 'novenv'}/bin/nas not found; set NAS_VENV to the checkout's virtualenv")
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


@pytest.mark.skipif(not (VENV / "bin" / "nas").exists(), reason=f"{VENV}/bin/nas missing (pip install -e .)")
def test_script_on_a_stopped_study_exits_0_and_cleans_its_work_folder(tmp_path, tiny_space_path):
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    sessions = make_sessionmaker(make_engine(url))
    cfg = StudyConfig.parse({"name": "halted", "dataset": "synthetic:160", "space": str(tiny_space_path),
                             "n_trials": 3})
    with sessions() as s:
        service.create_study(s, url, cfg)
        service.stop_study(s, cfg.name)
    (tmp_path / "home").mkdir()
    _url_file(tmp_path / "home", url).rename(tmp_path / "home" / ".nas-db-url")  # the default file
    res = _bash(_script_env(tmp_path, SLURM_ARRAY_JOB_ID="7", SLURM_ARRAY_TASK_ID="3", SLURMD_NODENAME="n1"),
                tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "nas-worker: n1-7_3 on " in res.stdout and "worker done: 0 trial(s)" in res.stdout
    assert "nas-worker: n1-7_3 exited with status 0" in res.stdout
    assert not (tmp_path / "scratch" / "nas-worker-7_3").exists()


def test_worker_threads_follow_the_task_cpus_without_cpu_binding(monkeypatch):
    from nas.study.worker import usable_cores

    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    cores = len(os.sched_getaffinity(0))
    assert usable_cores() == cores
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")  # task/none: the CPU set is the whole node
    assert usable_cores() == 1
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", str(cores + 8))  # never more than the CPU set
    assert usable_cores() == cores
