"""Arm Ethos-U NPU: compile a ``.tflite`` with Arm's ``ethos-u-vela`` and read back its performance estimate.

Why vela: it is the compiler a firmware build uses anyway (the NPU only runs vela's command streams),
and it reports its own cycle estimate, SRAM and flash use per network and per layer. Ops vela cannot
place on the NPU (float ops, unsupported shapes) stay in the rewritten ``.tflite`` as ordinary TFLM
ops; :mod:`nas.hardware.pricing` prices those with the CPU cycle model.

vela runs as a child process (``python -m ethosu.vela``): its C++ core must not take a worker down,
and its console report is not ours to print. Results are cached by content hash and configuration.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import logging
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nas.hardware.graph import digest_of
from nas.hardware.profiles import NpuConfig

logger = logging.getLogger(__name__)
#: The op type vela writes for a command stream (TFLM's ``AddEthosU()``).
ETHOSU_OP = "CUSTOM:ethos-u"
VELA_TIMEOUT_S = 300


@dataclass(frozen=True)
class VelaLayer:
    """One row of vela's per-layer report: an NPU operation and the original op it came from."""

    original_op: str  # vela's name for the original TFLite op, e.g. "Conv2D"
    name: str  # the output tensor's name (how rows map back to the original graph)
    cycles: float  # NPU cycles


@dataclass(frozen=True)
class VelaResult:
    """What vela made of one model for one NPU configuration.

    Attributes:
        ok: False when vela is missing or failed; ``message`` says why.
        tflite: the rewritten model (ETHOSU custom ops + the ops left on the CPU).
        cycles: vela's estimate of the NPU's cycles per inference (``cycles_total``).
        sram_bytes / flash_bytes: vela's SRAM (tensor arena of the NPU) and flash use.
        npu_ops / cpu_ops: vela's count of original operators placed on each.
        layers: per-layer estimate.
    """

    ok: bool
    message: str = ""
    tflite: bytes = b""
    cycles: float = 0.0
    sram_bytes: int = 0
    flash_bytes: int = 0
    npu_ops: int = 0
    cpu_ops: int = 0
    layers: tuple[VelaLayer, ...] = ()
    version: str = ""


def vela_available() -> bool:
    return importlib.util.find_spec("ethosu") is not None and importlib.util.find_spec("ethosu.vela") is not None


def compile_for_npu(tflite: bytes, npu: NpuConfig) -> VelaResult:
    """Run vela on ``tflite`` for ``npu`` (cached by content and configuration); failures are results."""
    data = bytes(tflite)
    return _compile_cached(digest_of(data), data, npu.accelerator, npu.system_config, npu.memory_mode)


@functools.lru_cache(maxsize=64)
def _compile_cached(digest: str, data: bytes, accelerator: str, system_config: str, memory_mode: str) -> VelaResult:
    if not vela_available():
        return VelaResult(False, "ethos-u-vela is not installed (pip install ethos-u-vela): the NPU cannot be priced")
    with tempfile.TemporaryDirectory(prefix="nas-vela-") as tmp:
        src = Path(tmp) / "model.tflite"
        src.write_bytes(data)
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "ethosu.vela", str(src), "--accelerator-config", accelerator,
               "--config", "Arm/vela.ini", "--system-config", system_config, "--memory-mode", memory_mode,
               "--output-dir", str(out), "--verbose-performance"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=VELA_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            return VelaResult(False, f"vela did not finish within {VELA_TIMEOUT_S} s")
        summary = next(out.glob("model_summary_*.csv"), None) if out.exists() else None
        compiled = out / "model_vela.tflite"
        if proc.returncode != 0 or summary is None or not compiled.exists():
            tail = "; ".join(ln.strip() for ln in (proc.stderr or proc.stdout).splitlines()[-5:] if ln.strip())
            logger.info("vela failed on %s: %s", digest[:12], tail)
            return VelaResult(False, f"vela failed (exit {proc.returncode}): {tail[:500]}")
        with summary.open(newline="") as f:
            s = next(csv.DictReader(f))
        layers: list[VelaLayer] = []
        per_layer = out / "model_per-layer.csv"
        if per_layer.exists():
            with per_layer.open(newline="") as f:
                layers = [VelaLayer(r["Original Operator"], r["Name"], float(r["Op Cycles"] or 0))
                          for r in csv.DictReader(f)]
        kib = 1024
        flash = float(s.get("off_chip_flash_memory_used") or 0) + float(s.get("on_chip_flash_memory_used") or 0)
        return VelaResult(
            True, "", compiled.read_bytes(), float(s["cycles_total"]), int(float(s["sram_memory_used"]) * kib),
            int(flash * kib), _count(proc.stdout, "NPU operators"), _count(proc.stdout, "CPU operators"),
            tuple(layers), _version())


def _count(report: str, label: str) -> int:
    """``CPU operators = 0 (0.0%)`` from vela's console summary."""
    for line in report.splitlines():
        if line.strip().startswith(label):
            try:
                return int(line.split("=")[1].split()[0])
            except (IndexError, ValueError):
                return 0
    return 0


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("ethos-u-vela")
    except Exception:  # pragma: no cover - metadata missing in odd installs
        return "unknown"
