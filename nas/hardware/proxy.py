"""First-order cost of a torch model that has not been exported: for ranking candidates, never reported.

The first rung of a multi-fidelity study compares candidates after a short training, before the
precheck has exported them (an export takes 3-8 s, longer than that training). It ranks them on these
figures instead, which take milliseconds:

* ``macs`` and ``params``: counted by torch's ``FlopCounterMode`` on the pruned model and by its weights;
* ``latency_ms``: MACs at the profile's generic convolution cycles per MAC (its float coefficient for a
  32-bit candidate), plus the op dispatch and the audio frontend (:func:`frontend_cost`);
* ``ram_kb``: the largest input plus output activation of any layer at the candidate's bit-width, plus
  the runtime's RAM and the frontend's buffers; ``flash_kb``: weights at the bit-width plus runtime code;
* ``energy_uj`` / ``power_mw``: latency at the profile's active power.

Their order is what ranks (dominance is invariant to a monotone change of any axis), and
``tests/hardware/test_hw_proxy.py`` checks that order against the real export's figures. Their size
decides one thing only: whether a candidate is so far inside every budget that the precheck's export
could not refuse it (:func:`clearly_within`). The real file's latency, RAM and flash came to at most
2.8x the proxy's on 32 sampled candidates of the kws, sound_events, frame_mlp and mixed spaces.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas.candidate import FrontendConfig
from nas.hardware.frontend import frontend_cost
from nas.hardware.profiles import HardwareProfile
from nas.models import count_params


@dataclass(frozen=True)
class ProxyCost:
    """The estimate of one candidate on one profile; attributes named like :class:`CostReport`'s."""

    macs: int
    params: int
    latency_ms: float
    ram_kb: float
    flash_kb: float
    energy_uj: float
    power_mw: float


def proxy_cost(model: nn.Module, example: torch.Tensor, bits: int, profile: HardwareProfile,
               frontend: FrontendConfig | None = None, inference_rate_hz: float = 1.0) -> ProxyCost:
    """Estimate ``model`` (pruned, untrained is fine: only shapes count) at ``bits`` on ``profile``."""
    peak = 0
    layers = 0

    def watch(module: nn.Module, inputs: tuple, output: object) -> None:
        nonlocal peak, layers
        tensors = [t for t in (*inputs, output) if isinstance(t, torch.Tensor)]
        peak = max(peak, sum(t.numel() for t in tensors))
        layers += 1

    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(watch) for m in leaves]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as flops:
            model.eval()(example)
    finally:
        for h in hooks:
            h.remove()
    macs = flops.get_total_flops() // 2
    params = count_params(model)
    width = max(1, bits) / 8
    cycles_per_mac = profile.coef("float_conv", 20.0) if bits == 32 else profile.coef("conv_generic", 3.3)
    cycles = macs * cycles_per_mac + layers * profile.coef("dispatch", 800.0) + profile.coef("invoke", 3000.0)
    fe = frontend_cost(frontend, profile) if frontend is not None else None
    latency_ms = cycles / (profile.clock_mhz * 1e3) + (fe.ms if fe else 0.0)
    ram_kb = peak * width / 1024 + profile.runtime_ram_kb + (fe.ram_bytes / 1024 if fe else 0.0)
    flash_kb = params * width / 1024 + profile.runtime_code_kb + (fe.flash_bytes / 1024 if fe else 0.0)
    active_mw = profile.coef("active_mw", 1000.0)
    energy_uj = latency_ms * active_mw
    return ProxyCost(macs, params, latency_ms, ram_kb, flash_kb, energy_uj,
                     energy_uj * inference_rate_hz / 1000.0)


#: How far below a budget the proxy must be for the precheck to be skipped (the real figures were at most
#: 2.8x the proxy's where measured; the test keeps every sampled kws candidate under this factor).
PROXY_MARGIN = 3.0


def clearly_within(proxy: ProxyCost, profile: HardwareProfile, max_latency_ms: float | None = None,
                   max_energy_uj: float | None = None, margin: float = PROXY_MARGIN) -> bool:
    """Whether every budget holds even at ``margin`` times the proxy's figures: then the precheck export
    cannot find a budget broken. (It can still find an op the runtime lacks; the final pricing finds it
    then.)"""
    if profile.memory_violation(proxy.ram_kb * margin, proxy.flash_kb * margin):
        return False
    if max_latency_ms is not None and proxy.latency_ms * margin > max_latency_ms:
        return False
    return max_energy_uj is None or proxy.energy_uj * margin <= max_energy_uj
