"""CLI commands of the hardware cost model: ``nas devices``, ``nas profile``, ``nas agent``.

``register(subparsers)`` adds the three sub-commands; each sets ``func`` to a function that takes the
parsed namespace and returns an exit code. Printing happens here, never in ``nas.hardware``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nas.candidate import FrontendConfig
from nas.cli.common import DEFAULT_DEVICE, device_help
from nas.errors import ConfigError, NasError
from nas.hardware import CostReport, HardwareProfile, list_profiles, load_profile, price
from nas.hardware.report import FIGURES


def register(subparsers: Any) -> None:
    """Add ``devices``, ``profile`` and ``agent`` to an argparse sub-parser collection."""
    p = subparsers.add_parser("devices", help="list the hardware profiles")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_devices)

    p = subparsers.add_parser("profile", help="latency, RAM and flash of any .tflite on a device")
    p.add_argument("model", type=Path, help="a .tflite file")
    p.add_argument("--device", default=DEFAULT_DEVICE, metavar="DEVICE",
                   help=device_help("hardware profile") + f", or 'all' (default {DEFAULT_DEVICE})")
    p.add_argument("--frontend", type=Path, default=None, metavar="JSON",
                   help="add the audio frontend's cost: a JSON file with a 'frontend' mapping (a trial's "
                        "candidate.json or an export's manifest.json); without it the network alone is priced")
    p.add_argument("--inference-rate-hz", dest="inference_rate_hz", type=_positive, default=1.0, metavar="HZ",
                   help="inferences per second the average power is taken at (default 1)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_profile)

    p = subparsers.add_parser("agent", help="serve the device agent (time .tflite files on this machine)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765)")
    p.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN' (default: no token)")
    p.set_defaults(func=cmd_agent)


def cmd_devices(ns: argparse.Namespace) -> int:
    try:
        profiles = list_profiles()
    except NasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if getattr(ns, "json", False):
        print(json.dumps([_profile_dict(p) for p in profiles], indent=2))
        return 0
    rows = [(p.name, p.kind, p.core, f"{p.clock_mhz:g} MHz", _kb(p.sram_kb), _kb(p.flash_kb),
             f"{p.runtime}/{p.kernels}" + (f" ({p.kernel_variant})" if p.kernel_variant != "none" else ""),
             "agent" if p.agent_url else ("measured" if p.kind == "host" else "estimated"), p.source)
            for p in profiles]
    _table(("name", "kind", "core", "clock", "SRAM", "flash", "runtime/kernels", "latency", "source"), rows)
    return 0


def cmd_profile(ns: argparse.Namespace) -> int:
    try:
        data = Path(ns.model).read_bytes()
    except OSError as e:
        print(f"error: cannot read {ns.model}: {e}", file=sys.stderr)
        return 2
    try:
        frontend = read_frontend(ns.frontend) if ns.frontend else None
        profiles = list_profiles() if ns.device == "all" else [load_profile(ns.device)]
        rate = getattr(ns, "inference_rate_hz", 1.0)
        reports = [price(data, p, frontend=frontend, inference_rate_hz=rate) for p in profiles]
    except NasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if ns.json:
        dicts = [{**r.to_dict(), "split": r.split()} for r in reports]
        print(json.dumps(dicts if ns.device == "all" else dicts[0], indent=2, default=str))
        return 0
    scope = (f"frontend {frontend.describe()} + network" if frontend else
             "network only: no frontend given (--frontend candidate.json adds the DSP cost a study includes)")
    if ns.device == "all":
        print(f"{ns.model}: {reports[0].macs:,} MACs, {reports[0].params:,} params; {scope}; "
              f"power at {rate:g} inference/s")
        if frontend:
            rows = [(r.device, "yes" if r.deployable else "NO", *_split_cells(r), r.latency_source,
                     *_energy_cells(r), (r.reason or "")[:60]) for r in reports]
            _table(("device", "deploy", "DSP ms", "net ms", "total ms", "DSP RAM", "net RAM", "RAM KB",
                    "DSP flash", "net flash", "flash KB", "source", "energy uJ", "power mW", "reason"), rows)
        else:
            rows = [(r.device, "yes" if r.deployable else "NO", f"{r.latency_ms:.3f}", r.latency_source,
                     f"{r.ram_kb:.1f}", f"{r.arena_kb:.1f}", f"{r.flash_kb:.1f}", *_energy_cells(r),
                     (r.reason or "")[:70]) for r in reports]
            _table(("device", "deploy", "net ms", "source", "net RAM KB", "arena KB", "net flash KB", "energy uJ",
                    "power mW", "reason"), rows)
        return 0
    print(scope)
    _print_report(ns.model, reports[0])
    return 0


def read_frontend(path: Path) -> FrontendConfig:
    """The frontend of a candidate.json, trial.json or manifest.json (its ``frontend`` mapping).

    Raises:
        ConfigError: unreadable file or no usable ``frontend`` mapping, naming the file.
    """
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: cannot read a JSON file: {e}") from e
    fe = doc.get("frontend") if isinstance(doc, dict) else None
    if fe is None and isinstance(doc, dict) and isinstance(doc.get("candidate"), dict):
        fe = doc["candidate"].get("frontend")
    if not isinstance(fe, dict):
        raise ConfigError(f"{path}: no 'frontend' mapping (expected a candidate.json, trial.json or manifest.json)")
    from nas.data import validate_frontend  # torch: only when a frontend is given

    fields = {f.name for f in dataclasses.fields(FrontendConfig)}
    try:
        cfg = FrontendConfig(**{k: v for k, v in fe.items() if k in fields})
        validate_frontend(cfg)
    except TypeError as e:
        raise ConfigError(f"{path}: frontend: {e}") from e
    return cfg


def _energy_cells(r: CostReport) -> tuple[str, str]:
    return ("-" if r.energy_uj is None else f"{r.energy_uj:.1f}", "-" if r.power_mw is None else f"{r.power_mw:.3f}")


def _split_cells(r: CostReport) -> tuple[str, ...]:
    s = r.split()
    return tuple(f"{s[part][k]:.{2 if k == 'latency_ms' else 1}f}" for k in FIGURES
                 for part in ("frontend", "network", "total"))


def cmd_agent(ns: argparse.Namespace) -> int:
    import logging

    from nas.hardware import agent

    logging.basicConfig(level=logging.INFO)
    print(f"nas agent on http://{ns.host}:{ns.port} (POST /profile with a .tflite body; GET /health)")
    agent.serve(ns.host, ns.port, token=ns.token)
    return 0


def _print_report(model: Path, r: CostReport) -> None:
    print(f"{model} on {r.device}: {'deployable' if r.deployable else 'NOT deployable'}"
          + (f" — {r.reason}" if r.reason else ""))
    print(f"  latency {r.latency_ms:.3f} ms ({r.latency_source})   RAM {r.ram_kb:.1f} KB ({r.ram_source}), "
          f"arena {r.arena_kb:.1f} KB   flash {r.flash_kb:.1f} KB ({r.flash_source})")
    if r.energy is not None:
        e = r.energy
        print(f"  energy {e.energy_uj:.1f} uJ per inference ({e.source}; {e.active_mw:g} mW active"
              + (f", frontend {e.frontend_uj:.1f} uJ" if e.frontend_uj else "") + f")   average power "
              f"{e.power_mw:.3f} mW at {e.inference_rate_hz:g} inference/s (busy {e.duty:.1%}, sleep {e.sleep_mw:g} mW)"
              + ("" if e.keeps_up else " — cannot keep up with that rate"))
    print(f"  {r.macs:,} MACs, {r.params:,} params")
    print_split(r, indent="  ")
    npu = r.details.get("npu")
    if isinstance(npu, dict) and "npu_ms" in npu:
        print(f"  NPU {npu['accelerator']} @ {npu['clock_mhz']:g} MHz: {npu['npu_ms']:.3f} ms "
              f"({npu['npu_cycles']:,.0f} cycles, estimated (vela) {npu['vela_version']}), CPU {npu['cpu_ms']:.3f} ms; "
              f"{npu['ops_on_npu']} ops on the NPU, {npu['ops_on_cpu']} on the CPU"
              + (f" ({', '.join(npu['cpu_ops'][:8])})" if npu["cpu_ops"] else "")
              + f"; vela SRAM {npu['vela_sram_kb']:.1f} KB, flash {npu['vela_flash_kb']:.1f} KB")
    for key in ("runtime", "arena_head_bytes", "arena_tail_bytes", "scratch_bytes", "activation_floor_bytes",
                "agent_error"):
        if key in r.details:
            print(f"  {key}: {r.details[key]}")
    rows = [(str(la.index), la.op, la.shape, la.dtype, f"{la.macs:,}", f"{la.cycles:,.0f}", f"{la.ms:.3f}",
             f"{la.share:.1%}", la.kernel) for la in r.layers]
    _table(("#", "op", "shape", "dtype", "MACs", "cycles", "ms", "share", "kernel"), rows)


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return v


def print_split(r: CostReport, *, indent: str = "") -> None:
    """The frontend (DSP) / network / total table of one report (network only when it has no frontend)."""
    s = r.split()
    parts = (("frontend (DSP)", "frontend"), ("network", "network"), ("total", "total")) if r.has_frontend \
        else (("network (no frontend)", "network"),)
    rows = [(indent + label, f"{s[key]['latency_ms']:.3f}", f"{s[key]['ram_kb']:.1f}", f"{s[key]['flash_kb']:.1f}")
            for label, key in parts]
    _table((indent + "part", "latency ms", "RAM KB", "flash KB"), rows)


def _profile_dict(p: HardwareProfile) -> dict[str, Any]:
    return {"name": p.name, "kind": p.kind, "core": p.core, "clock_mhz": p.clock_mhz, "sram_kb": p.sram_kb,
            "flash_kb": p.flash_kb, "runtime": p.runtime, "kernels": p.kernels,
            "kernel_variant": p.kernel_variant, "agent_url": p.agent_url, "source": p.source,
            "description": p.description}


def _kb(kb: float) -> str:
    return f"{kb / 1024 / 1024:g} GB" if kb >= 1024 * 1024 else (f"{kb / 1024:g} MB" if kb >= 4096 else f"{kb:g} KB")


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
