"""``nas serve``: the real command serves the API, and its worker supervisor starts ``nas worker``
processes only while a running study has unclaimed trials."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from nas import service
from nas.api.supervisor import WorkerSupervisor, unclaimed_trials
from nas.cli import build_parser
from nas.cli.api import cmd_serve
from nas.study.config import StudyConfig
from nas.study.tables import make_engine, make_sessionmaker

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_command_parses():
    args = build_parser().parse_args(["serve", "--db", "sqlite:///x.db", "--workers", "3", "--port", "9000"])
    assert (args.func, args.db, args.workers, args.port, args.host) == (cmd_serve, "sqlite:///x.db", 3, 9000,
                                                                        "127.0.0.1")


def test_nas_serve_runs_the_api_and_refuses_a_weak_token(tmp_path):
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    port = _free_port()
    main = "import sys; from nas.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(REPO), "NAS_API_TOKEN": "changethis"}
    weak = subprocess.run([sys.executable, "-c", main, "serve", "--db", url, "--workers", "0"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert weak.returncode == 2 and "NAS_API_TOKEN is a default or short value" in weak.stderr
    env["NAS_API_TOKEN"] = "serve-test-token-0123456789"
    proc = subprocess.Popen([sys.executable, "-c", main, "serve", "--db", url, "--workers", "0", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.3)
        assert r.json()["status"] == "ok"
        r = httpx.post(f"http://127.0.0.1:{port}/api/studies", json={"name": "served"},
                       headers={"Authorization": "Bearer serve-test-token-0123456789"}, timeout=30)
        assert r.status_code == 201 and r.json()["status"] == "running"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


@pytest.mark.slow
def test_supervisor_starts_workers_for_unclaimed_trials(tmp_path, tiny_space_path):
    url = f"sqlite:///{tmp_path / 'sup.db'}"
    sessions = make_sessionmaker(make_engine(url))
    sup = WorkerSupervisor(url, 2, artifacts=tmp_path / "runs", poll_s=0.5)
    assert sup.step() == 0 and unclaimed_trials(sessions) == 0  # nothing to do: no process started
    cfg = StudyConfig.parse({"name": "sup", "dataset": "synthetic:160", "space": str(tiny_space_path),
                             "n_trials": 1, "devices": ["nucleo-l4r5zi"]})
    with sessions() as s:
        service.create_study(s, url, cfg)
    assert unclaimed_trials(sessions) == 1
    sup.start()
    try:
        deadline = time.monotonic() + 240
        while True:
            with sessions() as s:
                if service.study_info(s, "sup").finished == 1:
                    break
            assert time.monotonic() < deadline, "the supervised worker did not finish the trial"
            time.sleep(1)
        assert sup.started == 1  # one unclaimed trial -> one worker, not two
    finally:
        sup.stop()
    with sessions() as s:
        info = service.study_info(s, "sup")
    assert info.status == "finished" and info.failed == 0
