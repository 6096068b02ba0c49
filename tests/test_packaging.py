"""The install: hashed locks that agree with pyproject.toml, and a wheel that works outside the checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
REQ = REPO / "requirements"
ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def _lock(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a uv/pip-compile lock file."""
    out: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        m = ENTRY.match(line)
        if m:
            current = canonicalize_name(m.group(1))
            out[current] = (m.group(2), [])
        elif current and line.strip().startswith("--hash=sha256:"):
            out[current][1].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
        elif not line.startswith(" "):
            current = None
    return out


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


RUNTIME, TEST = _lock(REQ / "runtime.lock"), _lock(REQ / "test.lock")


@pytest.mark.parametrize("lock,groups", [(RUNTIME, ("dependencies",)), (TEST, ("dependencies", "test"))],
                         ids=["runtime", "test"])
def test_every_declared_requirement_is_locked_inside_its_range(lock, groups):
    project = _project()
    declared = [Requirement(r) for g in groups
                for r in (project[g] if g == "dependencies" else project["optional-dependencies"][g])]
    problems = []
    for req in declared:
        name = canonicalize_name(req.name)
        if name not in lock:
            problems.append(f"{req}: not in the lock")
        elif not req.specifier.contains(lock[name][0], prereleases=True):
            problems.append(f"{req}: locked at {lock[name][0]}, outside the range")
    assert not problems, "; ".join(problems)


def test_the_locks_agree_and_every_entry_is_hashed():
    assert RUNTIME, "runtime.lock parsed to nothing"
    for name, (version, hashes) in TEST.items():
        assert hashes, f"{name} has no hash in test.lock"
        if name in RUNTIME:
            assert RUNTIME[name][0] == version, f"{name}: {RUNTIME[name][0]} at run time, {version} in tests"
    missing = sorted(set(RUNTIME) - set(TEST))
    assert not missing, f"in runtime.lock but not in test.lock: {missing}"
    test_only = {canonicalize_name(Requirement(r).name) for r in _project()["optional-dependencies"]["test"]}
    leaked = sorted(test_only & set(RUNTIME))
    assert not leaked, f"test extras in runtime.lock (make demo installs no test extras): {leaked}"


def test_constraints_are_kept_by_both_locks():
    for line in (REQ / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        req = Requirement(line)
        for lock in (RUNTIME, TEST):
            name = canonicalize_name(req.name)
            assert name in lock and req.specifier.contains(lock[name][0]), f"{req} not kept: {lock.get(name)}"


def test_the_known_bad_torchaudio_is_excluded():
    assert RUNTIME["torch"][0].split("+")[0] == RUNTIME["torchaudio"][0].split("+")[0] == "2.11.0"


def test_the_wheel_carries_its_data_and_runs_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheels), str(REPO)], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = wheels.glob("embedded_audio_nas-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("nas/search_spaces/kws.yaml", "nas/hw_profiles/nucleo-l4r5zi.yaml",
                     "nas/api/templates/study.html", "nas/api/static/study.js", "nas/__main__.py"):
        assert expected in names, f"{expected} missing from {wheel.name}"
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("NAS_HW_PROFILES", None)
    run = {"cwd": tmp_path, "env": env, "capture_output": True, "text": True, "timeout": 120}
    where = subprocess.run([sys.executable, "-c", "import nas; print(nas.__file__)"], **run)
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr
    devices = subprocess.run([sys.executable, "-m", "nas", "devices"], **run)
    assert devices.returncode == 0 and "nucleo-l4r5zi" in devices.stdout, devices.stderr
    spaces = subprocess.run([sys.executable, "-m", "nas", "spaces", "show", "kws"], **run)
    assert spaces.returncode == 0 and "nas/search_spaces/kws.yaml" in spaces.stdout, spaces.stderr
    version = subprocess.run([sys.executable, "-m", "nas", "--version"], **run)
    assert version.stdout.strip() == f"nas {_project()['version']}"
