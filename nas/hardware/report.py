"""What pricing a ``.tflite`` file on a hardware profile returns.

Every figure carries how it was obtained: ``measured`` (a real run: TFLite-Micro's allocator, a
LiteRT timing on this host or on a device agent) or ``estimated`` (the calibrated cost model).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from nas.hardware.energy import EnergyEstimate

Source = Literal["measured", "estimated"]


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
        details: anything else worth showing (frontend ms, scratch bytes, uncertainty band, ...).
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
    # Energy (issue 19): one group, read through the properties below.
    energy: EnergyEstimate | None = None

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

    def within(self, *, ram_kb: float, flash_kb: float) -> bool:
        return self.deployable and self.ram_kb <= ram_kb and self.flash_kb <= flash_kb

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
        return cls(**d)
