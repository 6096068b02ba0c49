"""Hardware profiles: one YAML file per device in ``nas/hw_profiles/``, validated once into a frozen object.

Why YAML with a source per figure: the cost model is only as good as its coefficients, and a reader
must be able to see where each came from (datasheet, paper, published benchmark, our own fit). Every
``cost`` entry is written as ``{value: ..., source: ...}``; a missing source is a configuration error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from nas import yamlfile
from nas.errors import ConfigError

logger = logging.getLogger(__name__)

KINDS = ("mcu", "cpu", "host")
RUNTIMES = ("tflm", "litert")
KERNELS = ("cmsis-nn", "reference", "xnnpack", "builtin")
VARIANTS = ("c", "dsp", "mve", "none")

#: key -> (type(s), required)
_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "name": ((str,), True),
    "kind": ((str,), True),
    "description": ((str,), True),
    "source": ((str,), True),
    "core": ((str,), True),
    "clock_mhz": ((int, float), True),
    "sram_kb": ((int, float), True),
    "flash_kb": ((int, float), True),
    "runtime": ((str,), True),
    "kernels": ((str,), True),
    "kernel_variant": ((str,), False),
    "fpu": ((bool,), False),
    "runtime_code_kb": ((dict,), True),
    "runtime_ram_kb": ((dict,), True),
    "op_code_kb": ((dict,), False),
    "cost": ((dict,), True),
    "agent_url": ((str, type(None)), False),
    "agent_token_env": ((str,), False),
    "npu": ((dict,), False),
}
#: ``npu:`` keys -> type; every one is required when the block is present.
_NPU_FIELDS: dict[str, type | tuple[type, ...]] = {
    "accelerator": str, "system_config": str, "memory_mode": str, "clock_mhz": (int, float),
    "driver_code_kb": (int, float), "driver_ram_kb": (int, float), "source": str}


@dataclass(frozen=True)
class NpuConfig:
    """An Arm Ethos-U NPU beside the Cortex-M core, compiled for and priced by ``ethos-u-vela``.

    Attributes:
        accelerator: vela's ``--accelerator-config`` (``ethos-u55-256``, ``ethos-u65-256``, ...).
        system_config / memory_mode: sections of Arm's ``vela.ini`` shipped with vela.
        clock_mhz: NPU clock; vela's cycle estimate is divided by it.
        driver_code_kb / driver_ram_kb: the Ethos-U core driver and TFLM's ETHOSU kernel.
        source: where the figures come from.
    """

    accelerator: str
    system_config: str
    memory_mode: str
    clock_mhz: float
    driver_code_kb: float
    driver_ram_kb: float
    source: str


@dataclass(frozen=True, kw_only=True)
class ProfileSummary:
    """What a profile is, as listings show it (``nas devices``, ``GET /api/devices``)."""

    name: str
    kind: str
    core: str
    clock_mhz: float
    sram_kb: float
    flash_kb: float
    runtime: str
    kernels: str
    kernel_variant: str = "none"
    description: str = ""
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class HardwareProfile(ProfileSummary):
    """A target device and the coefficients the cost model uses for it.

    Attributes:
        kind: ``mcu`` (TFLite-Micro), ``cpu`` (Cortex-A with LiteRT) or ``host`` (this machine, measured).
        core / clock_mhz / sram_kb / flash_kb: datasheet figures (``source``).
        runtime / kernels / kernel_variant: ``tflm`` + ``cmsis-nn`` + ``dsp``, ``litert`` + ``xnnpack`` ...
        runtime_code_kb: flash taken by the runtime (framework + app/HAL); ``op_code_kb`` per op type.
        runtime_ram_kb: RAM besides the arena (stack, .data/.bss) or the runtime's resident memory.
        cost: coefficient name -> value; ``sources`` gives the citation of each, keyed the same way.
        agent_url: a device agent; when set, latency is measured there (:mod:`nas.hardware.agent`).
        npu: an Ethos-U NPU that runs what vela can place on it (:mod:`nas.hardware.ethosu`).
    """

    runtime_code_kb: float
    runtime_ram_kb: float
    cost: Mapping[str, float]
    sources: Mapping[str, str]
    fpu: bool = True
    op_code_kb: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    agent_url: str | None = None
    agent_token_env: str | None = None
    npu: NpuConfig | None = None
    path: str = ""

    def coef(self, key: str, default: float | None = None) -> float:
        """A cost coefficient; ``default`` is used when the profile does not define it."""
        if key in self.cost:
            return float(self.cost[key])
        if default is None:
            raise ConfigError(f"{self.path or self.name}: cost.{key} is required by the cost model")
        return default

    def memory_excess(self, ram_kb: float, flash_kb: float) -> dict[str, float]:
        """KB by which ``ram_kb`` and ``flash_kb`` exceed this board's SRAM and flash (<= 0: within budget)."""
        return {"ram_kb": ram_kb - self.sram_kb, "flash_kb": flash_kb - self.flash_kb}

    def memory_violation(self, ram_kb: float, flash_kb: float, *, check_flash: bool = True) -> str | None:
        """Why a model needing ``ram_kb`` and ``flash_kb`` does not fit this board (None: it fits); the one
        RAM/flash budget check of pricing, the trial pipeline and the study's constraints."""
        excess = self.memory_excess(ram_kb, flash_kb)
        if excess["ram_kb"] > 0:
            return f"needs {ram_kb:.1f} KB RAM, {self.name} has {self.sram_kb:g} KB"
        if check_flash and excess["flash_kb"] > 0:
            return f"needs {flash_kb:.1f} KB flash, {self.name} has {self.flash_kb:g} KB"
        return None


def profiles_dir() -> Traversable:
    """``$NAS_HW_PROFILES`` or the profiles shipped in the package (``nas/hw_profiles``)."""
    env = os.environ.get("NAS_HW_PROFILES")
    return Path(env) if env else yamlfile.shipped("hw_profiles")


def list_profiles() -> list[HardwareProfile]:
    """All shipped profiles, sorted by name."""
    return sorted((load_profile(name) for name in yamlfile.names(profiles_dir())), key=lambda p: p.name)


def load_profile(name_or_path: str | Path) -> HardwareProfile:
    """Load a profile by name (``nas/hw_profiles/<name>.yaml``) or from a YAML path.

    Raises:
        NotFoundError: no profile of that name (the message lists the available ones).
        ConfigError: malformed file; the message names the file and the key.
    """
    p = yamlfile.locate(name_or_path, profiles_dir(), "hardware profile")
    raw = yamlfile.read(p)
    return _validate(raw, str(p))


def parse_profile(raw: Any, where: str) -> HardwareProfile:
    """Validate a profile document already loaded (an inline JSON object, a stored copy); ``where`` names it in
    messages, which are those of a YAML file."""
    return _validate(raw, where)


def _validate(raw: Any, where: str) -> HardwareProfile:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    for key in raw:
        if key not in _FIELDS:
            raise ConfigError(f"{where}: unknown key {key!r}; allowed: {', '.join(_FIELDS)}")
    for key, (types, required) in _FIELDS.items():
        if key not in raw:
            if required:
                raise ConfigError(f"{where}: missing required key {key!r}")
            continue
        val = raw[key]
        if not isinstance(val, types) or (isinstance(val, bool) and bool not in types):
            names = " or ".join(t.__name__ for t in types)
            raise ConfigError(f"{where}: key {key!r} must be {names}, got {type(val).__name__} ({val!r})")
    _choice(where, raw, "kind", KINDS)
    _choice(where, raw, "runtime", RUNTIMES)
    _choice(where, raw, "kernels", KERNELS)
    _choice(where, raw, "kernel_variant", VARIANTS)
    for key in ("clock_mhz", "sram_kb", "flash_kb"):
        if raw[key] <= 0:
            raise ConfigError(f"{where}: key {key!r} must be > 0, got {raw[key]!r}")
    sources: dict[str, str] = {}
    code = _figure(where, "runtime_code_kb", raw["runtime_code_kb"], sources)
    ram = _figure(where, "runtime_ram_kb", raw["runtime_ram_kb"], sources)
    cost = {k: _figure(where, f"cost.{k}", v, sources) for k, v in raw["cost"].items()}
    op_code = {str(k): float(v) for k, v in (raw.get("op_code_kb") or {}).items()}
    for k, v in op_code.items():
        if v < 0:
            raise ConfigError(f"{where}: key 'op_code_kb.{k}' must be >= 0")
    return HardwareProfile(
        name=raw["name"], kind=raw["kind"], core=raw["core"], clock_mhz=float(raw["clock_mhz"]),
        sram_kb=float(raw["sram_kb"]), flash_kb=float(raw["flash_kb"]), runtime=raw["runtime"],
        kernels=raw["kernels"], runtime_code_kb=code, runtime_ram_kb=ram,
        cost=MappingProxyType(cost), sources=MappingProxyType(sources), description=raw["description"],
        source=raw["source"], kernel_variant=raw.get("kernel_variant", "none"), fpu=raw.get("fpu", True),
        op_code_kb=MappingProxyType(op_code), agent_url=raw.get("agent_url"),
        agent_token_env=raw.get("agent_token_env"), npu=_npu(where, raw.get("npu")), path=where,
    )


def _npu(where: str, raw: dict[str, Any] | None) -> NpuConfig | None:
    if raw is None:
        return None
    for key in raw:
        if key not in _NPU_FIELDS:
            raise ConfigError(f"{where}: unknown key 'npu.{key}'; allowed: {', '.join(_NPU_FIELDS)}")
    for key, types in _NPU_FIELDS.items():
        if key not in raw:
            raise ConfigError(f"{where}: missing required key 'npu.{key}'")
        if not isinstance(raw[key], types) or isinstance(raw[key], bool):
            raise ConfigError(f"{where}: key 'npu.{key}' has the wrong type ({raw[key]!r})")
    if raw["clock_mhz"] <= 0:
        raise ConfigError(f"{where}: key 'npu.clock_mhz' must be > 0, got {raw['clock_mhz']!r}")
    return NpuConfig(raw["accelerator"], raw["system_config"], raw["memory_mode"], float(raw["clock_mhz"]),
                     float(raw["driver_code_kb"]), float(raw["driver_ram_kb"]), raw["source"])


def _choice(where: str, raw: dict[str, Any], key: str, allowed: tuple[str, ...]) -> None:
    if key in raw and raw[key] not in allowed:
        raise ConfigError(f"{where}: key {key!r} must be one of {', '.join(allowed)}, got {raw[key]!r}")


def _figure(where: str, key: str, val: Any, sources: dict[str, str]) -> float:
    """A ``{value: number, source: text}`` entry."""
    if not isinstance(val, dict) or set(val) != {"value", "source"}:
        raise ConfigError(f"{where}: key {key!r} must be a mapping with exactly 'value' and 'source', got {val!r}")
    v, s = val["value"], val["source"]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{where}: key '{key}.value' must be a number, got {type(v).__name__} ({v!r})")
    if not isinstance(s, str) or not s.strip():
        raise ConfigError(f"{where}: key '{key}.source' must be a non-empty citation string")
    sources[key] = s
    return float(v)
