"""A trial's record, declared once: the figures of ``nas_trials`` that every view of a trial shows.

:class:`TrialFigures` is what a worker writes for a finished trial (:meth:`TrialFigures.of_result`) and
what the service reads back by name (the trial table, a trial's page, a point of a Pareto front all
derive from it), so a new stored figure is a field here, a column of ``TrialRow`` and a migration.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, TypeVar

from nas.hardware import CostReport
from nas.pipeline import TrialResult
from nas.status import TrialStatus

R = TypeVar("R")

#: What a record's ``split`` holds (its description in the API's schema).
SPLIT = "latency_ms, ram_kb and flash_kb of the audio frontend (DSP), the network and their total"


@dataclass(frozen=True, kw_only=True)
class TrialFigures:
    """One finished trial as stored in ``nas_trials``: what it is and its figures on the primary device.

    Accuracies are None unless the trial is ``ok``; latency, RAM and flash are None where it was not priced.
    """

    number: int  # Optuna's trial number
    status: TrialStatus
    reason: str | None = None
    family: str
    arch: str
    frontend: str = ""
    bits: int
    prune_ratio: float
    accuracy: float | None = None
    test_accuracy: float | None = None
    float_accuracy: float | None = None
    latency_ms: float | None = None
    ram_kb: float | None = None
    flash_kb: float | None = None
    frontend_latency_share: float | None = None  # the audio frontend's (DSP) part of latency_ms, 0..1
    params: int | None = None
    macs: int | None = None
    tflite_bytes: int | None = None
    feasible: bool = False
    worker: str = ""

    @classmethod
    def of_result(cls, number: int, result: TrialResult, primary: CostReport | None, *, feasible: bool,
                  worker: str) -> TrialFigures:
        """The record of a trial that ran to a result; ``primary``: its cost on the study's first device."""
        c, trained = result.candidate, result.status == TrialStatus.OK
        return cls(number=number, status=TrialStatus(result.status), reason=result.reason, family=c.arch.family,
                   arch=c.describe()[:256], frontend=c.frontend.describe(), bits=c.bits, prune_ratio=c.prune_ratio,
                   accuracy=result.accuracy if trained else None,
                   test_accuracy=result.test_accuracy if trained else None,
                   float_accuracy=result.float_accuracy if trained else None,
                   latency_ms=primary.latency_ms if primary else None, ram_kb=primary.ram_kb if primary else None,
                   flash_kb=primary.flash_kb if primary else None,
                   frontend_latency_share=primary.frontend_ms / primary.latency_ms
                   if primary and primary.latency_ms > 0 else None,
                   params=result.params, macs=result.macs,
                   tflite_bytes=result.tflite_bytes or None, feasible=feasible, worker=worker)

    @classmethod
    def of_failure(cls, number: int, candidate: dict[str, Any], reason: str, worker: str) -> TrialFigures:
        """The record of a trial that raised (``candidate`` as sampled: it may not build)."""
        arch = dict(candidate.get("arch", {}))
        return cls(number=number, status=TrialStatus.FAILED, reason=reason[:4000], family=str(arch.get("family", "?")),
                   arch=str(arch)[:256], bits=int(candidate.get("bits", 0)),
                   prune_ratio=float(candidate.get("prune_ratio", 0)), worker=worker)

    def columns(self) -> dict[str, Any]:
        """The record as ``TrialRow`` keyword arguments (its fields are columns of the same names)."""
        return {f.name: getattr(self, f.name) for f in fields(TrialFigures)}


def from_columns(record: type[R], *sources: Any, **values: Any) -> R:
    """``record`` with each field from ``values``, else from the first of ``sources`` (table rows, result
    rows) with an attribute of that name; the one place rows turn into records, always by name."""
    for f in fields(record):  # type: ignore[arg-type]
        if f.name not in values:
            source = next((s for s in sources if hasattr(s, f.name)), None)
            if source is not None:
                values[f.name] = getattr(source, f.name)
    return record(**values)
