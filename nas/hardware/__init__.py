"""Hardware cost model: what a ``.tflite`` file costs on a device (latency, RAM, flash).

Public interface::

    from nas.hardware import (HardwareProfile, load_profile, list_profiles, price, price_all,
                              read_graph, measure_arena, CostReport, LayerCost, EnergyEstimate)

Importing this package loads no runtime: TFLite-Micro, LiteRT and the flatbuffer bindings are imported
on first use. The package imports only ``nas.candidate``, ``nas.errors`` and itself.
"""

from nas.hardware.arena import ArenaMeasurement, measure_arena
from nas.hardware.energy import EnergyEstimate, estimate_energy, has_energy_model
from nas.hardware.graph import Graph, OpInfo, TensorInfo, read_graph
from nas.hardware.pricing import price, price_all
from nas.hardware.profiles import HardwareProfile, list_profiles, load_profile
from nas.hardware.report import CostReport, LayerCost

__all__ = [
    "ArenaMeasurement", "CostReport", "EnergyEstimate", "estimate_energy", "has_energy_model",
    "Graph", "HardwareProfile", "LayerCost", "OpInfo", "TensorInfo",
    "list_profiles", "load_profile", "measure_arena", "price", "price_all", "read_graph",
]
