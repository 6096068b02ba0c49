"""The command line a person expects: help for every option, NAS_DB everywhere, fast --help, clean output."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nas.cli import build_parser, main
from nas.cli.studies import _net

REPO = Path(__file__).resolve().parents[1]


def _commands(parser: argparse.ArgumentParser, path: str = "nas"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{path} {name}")


def test_every_option_of_every_command_has_a_help_text():
    missing = [f"{path}: {action.dest}" for path, parser in _commands(build_parser())
               for action in parser._actions
               if not isinstance(action, argparse._SubParsersAction) and not action.help]
    assert not missing, f"options without help: {missing}"


@pytest.mark.parametrize("option,expected", [("--sampler", "nsga2,tpe,gp,random"), ("--objective", "latency_ms"),
                                             ("--device", "nucleo-l4r5zi"), ("--space", "kws")])
def test_study_create_lists_the_choices(capsys, option, expected):
    with pytest.raises(SystemExit):
        main(["study", "create", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert option in text and expected in text


def test_every_database_command_honours_nas_db(monkeypatch):
    monkeypatch.setenv("NAS_DB", "sqlite:////tmp/from-env.db")
    parser = build_parser()
    database_commands = [path for path, p in _commands(parser) if any(a.dest == "db" for a in p._actions)]
    assert {"nas demo", "nas study list", "nas study show", "nas worker", "nas serve", "nas token"} <= set(
        database_commands)
    for path in database_commands:
        words = path.split()[1:]
        sub = parser
        for w in words:
            sub = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction)).choices[w]
        assert sub.get_default("db") == "sqlite:////tmp/from-env.db", path


def test_study_list_reads_the_nas_db_database(tmp_path, capsys):
    from nas.study.tables import make_engine

    db = tmp_path / "env.db"
    make_engine(f"sqlite:///{db}").dispose()  # `study list` reads a database, it never creates one
    env = {**os.environ, "NAS_DB": f"sqlite:///{db}"}
    out = subprocess.run([sys.executable, "-m", "nas", "study", "list"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "runs").exists()


def test_help_does_not_import_torch_and_version_prints():
    code = "import sys; from nas.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
    version = subprocess.run([sys.executable, "-m", "nas", "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("nas ")


def test_a_negative_saving_reads_as_a_cost():
    assert _net(-39.4) == "a net cost of ~39 s"
    assert _net(12.0) == "~12 s of training saved"


def test_a_closed_pipe_ends_quietly():
    cmd = f"{sys.executable} -m nas spaces show mixed | head -1"
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in out.stderr and out.stdout.startswith("mixed")


def test_the_converter_and_interpreters_print_no_runtime_noise(tmp_path):
    """A float export, an int8 quantization and a LiteRT run: none of absl's, oneDNN's or XNNPACK's notices."""
    code = """
import numpy as np, torch
from nas.candidate import ArchConfig
from nas.deploy.export import export_tflite
from nas.deploy.interpreters import LiteRTRunner
from nas.models import build_model
torch.manual_seed(0)
model = build_model(ArchConfig.of("mlp", context=0, hidden=8, n_layers=1), (8, 10), 3)
data = export_tflite(model, 8, np.random.default_rng(0).standard_normal((16, 8, 10)).astype(np.float32))
LiteRTRunner(data).predict(np.zeros((1, 8, 10), np.float32))
print("done")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0 and "done" in out.stdout, out.stderr[-2000:]
    for noise in ("InitializeLog", "oneDNN", "XNNPACK"):
        assert noise not in out.stderr + out.stdout, out.stderr
