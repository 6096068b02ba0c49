"""What pricing a ``.tflite`` file on a hardware profile returns.

Every figure carries how it was obtained: ``measured`` (a real run: TFLite-Micro's allocator, a
LiteRT timing on this host or on a device agent) or ``estimated`` (the calibrated cost model).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

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
        return cls(**d)
