"""Local workers for ``nas serve --workers N``: a thread that keeps up to N ``nas worker`` processes
running while a running study has unclaimed budget.

A ``nas worker`` exits when no study has budget left; a study launched later through the API needs
new ones, so the supervisor polls the database and starts workers again. Each worker is a separate
``nas worker`` process (litert-torch conversions are not thread-safe, and a process can
be stopped cleanly when the server shuts down).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from nas.status import StudyStatus
from nas.study.tables import StudyRow, make_engine, make_sessionmaker

log = logging.getLogger(__name__)
WORKER_MAIN = "import sys; from nas.cli import main; sys.exit(main(sys.argv[1:]))"  # = the `nas` script


def unclaimed_trials(sessions) -> int:
    """Trials of running studies that no worker has claimed yet."""
    with sessions() as s:
        return int(s.scalar(select(func.coalesce(func.sum(StudyRow.budget - StudyRow.claimed), 0))
                            .where(StudyRow.status == StudyStatus.RUNNING, StudyRow.claimed < StudyRow.budget)) or 0)


class WorkerSupervisor:
    """Keeps ``n_workers`` worker processes busy on ``db_url``; ``stop()`` terminates them."""

    def __init__(self, db_url: str, n_workers: int, *, artifacts: Path = Path("runs"), poll_s: float = 5.0):
        self.db_url = db_url
        self.n_workers = n_workers
        self.artifacts = Path(artifacts)
        self.poll_s = poll_s
        self.sessions = make_sessionmaker(make_engine(db_url))
        self.procs: list[subprocess.Popen] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nas-worker-supervisor", daemon=True)
        self.started = 0

    def start(self) -> None:
        if self.n_workers > 0:
            self._thread.start()

    def command(self) -> list[str]:
        return [sys.executable, "-c", WORKER_MAIN, "worker", "--db", self.db_url, "--artifacts", str(self.artifacts),
                "--threads-split", str(self.n_workers)]

    def step(self) -> int:
        """Reap finished workers and start new ones for unclaimed trials; returns how many started."""
        for p in [p for p in self.procs if p.poll() is not None]:
            if p.returncode != 0:
                log.warning("worker pid %d exited with status %d", p.pid, p.returncode)
            self.procs.remove(p)
        # A worker that is still starting has not claimed its trial yet: count every live worker
        # against the unclaimed trials, so one trial never gets two new processes.
        live = len(self.procs)
        want = min(self.n_workers - live, unclaimed_trials(self.sessions) - live)
        for _ in range(max(0, want)):
            self.procs.append(subprocess.Popen(self.command()))
            self.started += 1
            log.info("started worker pid %d (%d running)", self.procs[-1].pid, len(self.procs))
        return max(0, want)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # a database hiccup must not kill the supervisor
                log.exception("worker supervisor: poll failed; retrying in %.0f s", self.poll_s)
            self._stop.wait(self.poll_s)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop polling and send each worker SIGTERM: it claims no more trials, records the one under way and
        exits. Workers still running after ``timeout`` seconds (all together) are killed; their trial is
        re-run by heartbeat recovery."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not finish within %.0f s: killed (heartbeat recovery re-runs its "
                            "trial)", p.pid, timeout)
                p.kill()
                p.wait()
        self.procs.clear()
