"""Early stopping for multi-objective studies (Optuna's pruners work on one objective only).

The rule, kept conservative. After epoch ``k >= max(min_epochs, min_fraction x planned epochs)``
(2 and half by default: the first epochs of a warm-up + cosine schedule say little) a candidate stops
training when

    val_acc(k) + margin(k) < A*(c)

* ``c`` is the candidate's cost vector (the study's objectives other than accuracy on the primary
  device). It is known *before* training: the precheck prices the untrained export, which already has
  the final shapes (pruned, at its bit-width), so latency, RAM, flash and MACs do not change with training.
* ``A*(c)`` is the best accuracy of the current front points whose every cost is <= ``c``. Any such
  point dominates the candidate unless the candidate finishes *above* ``A*(c)``. No such point:
  the candidate would be on the front whatever its accuracy, so it is never stopped.
* ``margin(k)`` bounds how much accuracy a candidate can still gain after epoch ``k``, fine-tuning,
  pruning and quantization included: the larger of a fixed generous margin (0.25 by default) and the
  largest gain from epoch ``k`` to the final ``.tflite`` accuracy seen in this study's finished trials,
  plus a slack of 0.02.

The front is a snapshot taken when the trial starts; fronts only improve, so an old snapshot stops
fewer candidates, never more. Without the precheck (no cost before training) nothing is stopped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nas.hardware import CostReport
from nas.pipeline import training_epochs
from nas.study.config import StudyConfig

log = logging.getLogger(__name__)

Curve = tuple[tuple[float, ...], float]  # (validation accuracy after each training epoch, final accuracy)


@dataclass(frozen=True)
class EarlyStopRule:
    """Parameters of the rule (see the module docstring)."""

    min_epochs: int = 2
    min_fraction: float = 0.5
    margin: float = 0.25
    slack: float = 0.02

    def first_epoch(self, planned: int) -> int:
        """The first epoch after which a candidate planned for ``planned`` epochs may be stopped."""
        return max(self.min_epochs, math.ceil(self.min_fraction * planned))

    def margin_at(self, epoch: int, curves: Sequence[Curve]) -> float:
        """Fixed margin, or the largest gain after ``epoch`` seen in finished trials plus the slack."""
        gains = [final - accs[epoch - 1] for accs, final in curves if len(accs) >= epoch]
        return max([self.margin] + [g + self.slack for g in gains])


@dataclass(frozen=True)
class FrontSnapshot:
    """Front points of the primary device as (accuracy, costs) with costs in ``cost_names`` order."""

    cost_names: tuple[str, ...]
    points: tuple[tuple[float, tuple[float, ...]], ...]

    def accuracy_to_beat(self, cost: Sequence[float]) -> float | None:
        """Best accuracy among points at most as costly as ``cost`` on every axis (None: no such point)."""
        accs = [a for a, c in self.points if all(x <= y for x, y in zip(c, cost, strict=True))]
        return max(accs) if accs else None

    def cost_of(self, report: CostReport) -> tuple[float, ...]:
        return tuple(float(getattr(report, name)) for name in self.cost_names)


class EarlyStopper:
    """The ``on_epoch`` callback of one trial; ``set_cost`` receives the precheck's report.

    ``decision`` holds why it stopped (epoch, accuracy, margin, accuracy to beat), for the trial record.
    """

    def __init__(self, rule: EarlyStopRule, front: FrontSnapshot, curves: Sequence[Curve], epochs: int):
        self.rule, self.front, self.curves = rule, front, tuple(curves)
        self.first_epoch = rule.first_epoch(epochs)
        self.cost: tuple[float, ...] | None = None
        self.decision: dict[str, Any] | None = None

    def set_cost(self, report: CostReport) -> None:
        self.cost = self.front.cost_of(report)

    def __call__(self, epoch: int, val_acc: float) -> bool:
        if self.cost is None or epoch < self.first_epoch:
            return False
        target = self.front.accuracy_to_beat(self.cost)
        if target is None:
            return False
        margin = self.rule.margin_at(epoch, self.curves)
        if val_acc + margin >= target:
            return False
        self.decision = {"epoch": epoch, "val_accuracy": val_acc, "margin": margin, "accuracy_to_beat": target}
        log.info("early stop after epoch %d: accuracy %.3f + margin %.3f < %.3f (front at no more cost)",
                 epoch, val_acc, margin, target)
        return True


def training_curve(details: Mapping[str, Any]) -> tuple[float, ...]:
    """Validation accuracy after each training epoch (fine-tuning epochs left out) from a trial's stored
    details (:meth:`TrialResult.to_dict` less the costs)."""
    return tuple(float(h["val_accuracy"]) for h in training_epochs(details.get("history", ())))


def early_stopper(cfg: StudyConfig, front: Sequence[Sequence[float]],
                  finished: Sequence[tuple[Mapping[str, Any], float | None]], epochs: int) -> EarlyStopper | None:
    """The callback of a trial planned for ``epochs``, on the primary device's ``front`` (objective values in
    ``cfg.objectives`` order) and the (details, accuracy) of ``finished`` trials; None where the rule cannot
    apply (no accuracy objective, or no precheck to price the candidate before training)."""
    if "accuracy" not in cfg.objectives or not cfg.precheck:
        return None
    i = cfg.objectives.index("accuracy")
    others = [j for j, o in enumerate(cfg.objectives) if o in cfg.cost_objectives]
    snapshot = FrontSnapshot(cfg.cost_objectives, tuple((v[i], tuple(v[j] for j in others)) for v in front))
    curves = [(training_curve(d), float(a)) for d, a in finished if a is not None and not d.get("stopped_early")]
    rule = EarlyStopRule(min_epochs=cfg.early_stopping_min_epochs, min_fraction=cfg.early_stopping_min_fraction,
                         margin=cfg.early_stopping_margin)
    return EarlyStopper(rule, snapshot, curves, epochs)
