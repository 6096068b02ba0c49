"""Energy per inference and average power at an inference rate, on microcontroller profiles.

The model (issue 19)::

    energy_uj = active_mw * (model_ms + frontend_ms)          # mW x ms = uJ
    duty      = min(1, rate_hz * (model_ms + frontend_ms) / 1000)
    power_mw  = rate_hz * energy_uj / 1000 + sleep_mw * (1 - duty)

``active_mw`` is the whole-chip supply power while TFLite-Micro + CMSIS-NN runs (core, flash, SRAM,
regulator; board extras such as the debugger excluded, as MLPerf Tiny's energy mode measures it) and
``sleep_mw`` the power of the low-power mode the device waits in between inferences with its RAM kept.
Both are profile coefficients (``cost.active_mw``, ``cost.sleep_mw``) with their sources; every figure
here is ``estimated``.

Left out, on purpose (see docs/hardware.md): power does not depend on the op mix (memory-bound and
compute-bound kernels are priced at one active power; MLPerf Tiny shows +-4 % across its four models on
one board), clock and voltage scaling (a profile is one clock and one supply; at a lower clock the
latency grows and the power falls, not proportionally), the wake-up transition and its energy, the
microphone/ADC/DMA that fill the audio buffer while the core sleeps, and a streaming frontend that
computes only the new frames of each hop (the frontend energy is that of a whole clip, like its latency).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from nas.hardware.profiles import HardwareProfile

#: Inference rate used when none is given: a sound-event detector deciding once a second.
DEFAULT_RATE_HZ = 1.0

LEFT_OUT = ("op-mix (memory- vs compute-bound) power", "clock/voltage scaling", "wake-up transitions",
            "microphone/ADC/DMA while asleep", "streaming frontend (whole clip priced)")


@dataclass(frozen=True)
class EnergyEstimate:
    """Energy of one inference and average power at ``inference_rate_hz`` on one profile.

    Attributes:
        energy_uj: one inference, model plus frontend, at ``active_mw``.
        model_uj / frontend_uj: the two parts of ``energy_uj``.
        active_mw / sleep_mw: the profile's coefficients used.
        inference_rate_hz: the rate ``power_mw`` is taken at.
        power_mw: average supply power at that rate (active share plus sleep between inferences).
        duty: fraction of time the core is busy at that rate (capped at 1).
        keeps_up: False when one inference takes longer than the period (the rate cannot be met).
        source: always ``estimated`` (no profile measures energy yet).
    """

    energy_uj: float
    model_uj: float
    frontend_uj: float
    active_mw: float
    sleep_mw: float
    inference_rate_hz: float
    power_mw: float
    duty: float
    keeps_up: bool
    source: Literal["measured", "estimated"] = "estimated"

    def at_rate(self, rate_hz: float) -> EnergyEstimate:
        """The same inference at another rate (only ``power_mw``, ``duty`` and ``keeps_up`` change)."""
        if rate_hz == self.inference_rate_hz:
            return self
        busy_ms = self.energy_uj / self.active_mw if self.active_mw > 0 else 0.0
        duty, keeps_up, power = _average(self.energy_uj, busy_ms, self.sleep_mw, rate_hz)
        return replace(self, inference_rate_hz=rate_hz, power_mw=power, duty=duty, keeps_up=keeps_up)


def _average(energy_uj: float, busy_ms: float, sleep_mw: float, rate_hz: float) -> tuple[float, bool, float]:
    if rate_hz <= 0:
        raise ValueError(f"inference rate must be > 0 Hz, got {rate_hz}")
    raw = rate_hz * busy_ms / 1000.0
    duty = min(1.0, raw)
    # Past 100 % duty the device runs flat out: it completes 1000/busy_ms inferences a second, not rate_hz.
    done_hz = rate_hz if raw <= 1.0 else 1000.0 / busy_ms
    return duty, raw <= 1.0, done_hz * energy_uj / 1000.0 + sleep_mw * (1.0 - duty)


def has_energy_model(profile: HardwareProfile) -> bool:
    return profile.kind == "mcu" and "active_mw" in profile.cost


def estimate_energy(profile: HardwareProfile, model_ms: float, frontend_ms: float = 0.0, *,
                    rate_hz: float = DEFAULT_RATE_HZ) -> EnergyEstimate | None:
    """Energy and average power of one inference taking ``model_ms`` (+ ``frontend_ms``) on ``profile``.

    Returns None for profiles without an energy model (Raspberry Pi, host, an MCU profile without
    ``cost.active_mw``)."""
    if not has_energy_model(profile):
        return None
    active = profile.coef("active_mw")
    sleep = profile.coef("sleep_mw", 0.0)
    model_uj, fe_uj = active * model_ms, active * frontend_ms
    energy = model_uj + fe_uj
    duty, keeps_up, power = _average(energy, model_ms + frontend_ms, sleep, rate_hz)
    return EnergyEstimate(energy_uj=energy, model_uj=model_uj, frontend_uj=fe_uj, active_mw=active, sleep_mw=sleep,
                          inference_rate_hz=rate_hz, power_mw=power, duty=duty, keeps_up=keeps_up)
