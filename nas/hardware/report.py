"""What pricing a ``.tflite`` file on a hardware profile returns.

Every figure carries how it was obtained: ``measured`` (a real run: TFLite-Micro's allocator, a
LiteRT timing on this host or on a device agent), ``estimated`` (the calibrated cost model) or
``estimated (vela)`` (Arm's Ethos-U compiler's own performance estimate, for NPU profiles).

Latency, RAM and flash are totals; the part spent on the audio frontend (DSP) is kept beside them
(``frontend_*``), so the network's own share is the difference (:meth:`CostReport.split`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from nas.hardware.energy import EnergyEstimate

Source = Literal["measured", "estimated", "estimated (vela)"]
FIGURES = ("latency_ms", "ram_kb", "flash_kb")


@dataclass(frozen=True)
class LayerCost:
    """One operator of the graph, priced on one profile."""

    index: int
    op: str
    shape: str  # output shape, e.g. "1x20x25x32"
    dtype: str  # "int8", "float32", ...
    macs: int
    cycles: float
    ms: float
    share: float  # fraction of the model's latency (0..1)
    kernel: str = ""  # e.g. "cmsis-nn conv 1x1", "reference"
    scratch_bytes: int = 0


@dataclass(frozen=True)
class CostReport:
    """Latency, RAM and flash of one model on one hardware profile.

    Attributes:
        device: profile name.
        deployable: False if the target's runtime cannot run the model; ``reason`` says why.
        latency_ms: one inference, frontend included where a frontend was given.
        ram_kb: peak RAM = arena (TFLite-Micro allocator) + kernel scratch + runtime overhead + frontend.
        flash_kb: ``.tflite`` bytes + runtime code.
        arena_kb: the TFLite-Micro arena alone (head + tail); 0 on Cortex-A profiles.
        macs / params: from the graph.
        *_source: ``measured`` or ``estimated`` for each figure.
        layers: per-op breakdown (empty for measured-only figures).
        frontend_ms / frontend_ram_kb / frontend_flash_kb: the audio frontend's part of the totals (0 when
            the model was priced without a frontend: then the totals are the network alone).
        details: anything else worth showing (frontend breakdown, scratch bytes, NPU/CPU split, ...).
        energy: energy per inference and average power at a rate (MCU profiles; None elsewhere).
    """

    device: str
    deployable: bool
    latency_ms: float
    ram_kb: float
    flash_kb: float
    arena_kb: float
    macs: int
    params: int
    latency_source: Source = "estimated"
    ram_source: Source = "estimated"
    flash_source: Source = "estimated"
    reason: str | None = None
    layers: tuple[LayerCost, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    frontend_ms: float = 0.0
    frontend_ram_kb: float = 0.0
    frontend_flash_kb: float = 0.0

    # Energy (issue 19): one group, read through the properties below.
    energy: EnergyEstimate | None = None

    @property
    def has_frontend(self) -> bool:
        return "frontend" in self.details

    def split(self) -> dict[str, dict[str, float]]:
        """``{"frontend": {...}, "network": {...}, "total": {...}}`` for latency_ms, ram_kb and flash_kb."""
        return split_figures(self.latency_ms, self.ram_kb, self.flash_kb,
                             self.frontend_ms, self.frontend_ram_kb, self.frontend_flash_kb)

    @property
    def energy_uj(self) -> float | None:
        return self.energy.energy_uj if self.energy else None

    @property
    def power_mw(self) -> float | None:
        return self.energy.power_mw if self.energy else None

    @property
    def energy_source(self) -> Source | None:
        return self.energy.source if self.energy else None

    def at_rate(self, rate_hz: float) -> CostReport:
        """This report with the average power taken at ``rate_hz`` inferences per second."""
        return replace(self, energy=self.energy.at_rate(rate_hz)) if self.energy else self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layers"] = [asdict(layer) for layer in self.layers]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CostReport:
        d = dict(d)
        d["layers"] = tuple(LayerCost(**x) for x in d.get("layers", ()))
        if d.get("energy") is not None:
            d["energy"] = EnergyEstimate(**d["energy"])
        details = d.get("details") or {}
        if "frontend_ms" not in d and "frontend_ms" in details:  # reports stored before the split fields
            d["frontend_ms"] = float(details["frontend_ms"])
            d["frontend_ram_kb"] = float(details.get("frontend_ram_bytes", 0)) / 1024
            d["frontend_flash_kb"] = float(details.get("frontend_flash_bytes", 0)) / 1024
        return cls(**d)


def split_figures(latency_ms: float, ram_kb: float, flash_kb: float, fe_ms: float, fe_ram_kb: float,
                  fe_flash_kb: float) -> dict[str, dict[str, float]]:
    """Frontend, network and total of each figure (network = total - frontend)."""
    total = {"latency_ms": latency_ms, "ram_kb": ram_kb, "flash_kb": flash_kb}
    fe = {"latency_ms": fe_ms, "ram_kb": fe_ram_kb, "flash_kb": fe_flash_kb}
    return {"frontend": fe, "network": {k: total[k] - fe[k] for k in FIGURES}, "total": total}

