"""Multi-fidelity multi-objective search: successive-halving rungs with Pareto promotion (MO-ASHA).

Optuna has no multi-objective pruning (its issue #3450), so this is ours, in the *stopping* form of
asynchronous successive halving (Li et al. 2020; multi-objective: Schmucker et al. 2021, syne-tune's
``MOASHA(type="stopping")``): a candidate trains epoch by epoch as usual, and at each rung (a fixed
epoch count) it is compared with every candidate of the study that reached the same rung before it.
It goes on training (is promoted, keeping its weights, optimizer state and schedule: nothing is
retrained) only when it ranks in the best ``1/eta`` of them; otherwise it stops there and is recorded
as ``stopped``, never exported.

The ranking is multi-objective: the vector is (validation accuracy at the rung, the candidate's cost
objectives), where the costs are the cost proxy's (``nas.hardware.proxy``: they depend on the graph
only, so they are known before any training, and the proxy orders candidates as their files do).
Candidates are ordered by non-dominated sorting, ties within a front broken by
crowding distance (NSGA-II's order; MO-ASHA's "non-dominated priority"), a tie in distance going to the
newcomer. With fewer than ``eta``
competitors, where ``1/eta`` of them is nobody, a candidate is promoted when no competitor dominates it
(Optuna's successive-halving pruner does the same with one objective).

Rungs, for a candidate planned for ``E`` epochs: ``min_epochs``, ``min_epochs * eta``, ... while below
``E``; the last rung is ``E`` itself, full training, after which it is fine-tuned, exported and priced.
With ``final_rung`` (the default) the candidate is judged there too, before any of that, by dominance
alone: it stops when a file the study has already recorded is at least as accurate as the candidate's
best validation accuracy, at no more cost, and better on one of them. The file's accuracy is taken after
its pruning, fine-tuning and quantization, and the candidate's own file would rarely beat its float
accuracy, so the front loses next to nothing (none in a replay over 21 studies). Its training is spent
by then; stopping saves pruning, fine-tuning, QAT and the export.
This module is pure (no I/O): the study layer records every rung's result and hands the competitors in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nas.study.pareto import dominates


class FidelityConfig(BaseModel):
    """A study's ``fidelity:`` section. ``eta``: each rung keeps the best 1/eta; ``min_epochs``: the first rung;
    ``final_rung``: a fully trained candidate that a recorded file dominates is not fine-tuned or exported."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    eta: int = Field(default=3, ge=2, le=10)
    min_epochs: int = Field(default=2, ge=1, le=1000)
    final_rung: bool = True

    def rungs(self, planned_epochs: int) -> tuple[int, ...]:
        """The epochs after which a candidate planned for ``planned_epochs`` is compared: ``min_epochs``,
        ``min_epochs * eta``, ... while below it (ASHA's rung levels; full training, the top rung after
        which it is exported, excluded)."""
        out: list[int] = []
        e = self.min_epochs
        while e < planned_epochs:
            out.append(e)
            e *= self.eta
        return tuple(out)


def crowding_distance(points: Sequence[Sequence[float]]) -> list[float]:
    """NSGA-II's crowding distance of each point within one front (boundary points: infinity)."""
    n = len(points)
    if n <= 2:
        return [math.inf] * n
    dist = [0.0] * n
    for k in range(len(points[0])):
        order = sorted(range(n), key=lambda i: points[i][k])
        lo, hi = points[order[0]][k], points[order[-1]][k]
        dist[order[0]] = dist[order[-1]] = math.inf
        if hi == lo:
            continue
        for a, i, b in zip(order, order[1:], order[2:], strict=False):
            dist[i] += (points[b][k] - points[a][k]) / (hi - lo)
    return dist


def nondominated_fronts(points: Sequence[Sequence[float]]) -> list[list[int]]:
    """Indices of ``points`` (loss form) by non-dominated front, the best front first."""
    remaining = list(range(len(points)))
    fronts: list[list[int]] = []
    while remaining:
        front = [i for i in remaining if not any(dominates(points[j], points[i]) for j in remaining if j != i)]
        fronts.append(front)
        remaining = [i for i in remaining if i not in front]
    return fronts


def promotable(own: Sequence[float], others: Sequence[Sequence[float]], eta: int | None) -> bool:
    """Whether a candidate with loss vector ``own`` goes on past a rung that ``others`` reached before it:
    it must be among the best ``(len(others) + 1) // eta`` by non-dominated front, and where its front
    straddles that cut, by crowding distance within the front (a tie goes to the newcomer: the extremes of
    a front, best on some objective, all have an infinite distance). ``eta=None`` (the final rung): it
    goes on unless one of ``others`` dominates it."""
    n_promoted = (len(others) + 1) // eta if eta is not None else 0
    if n_promoted == 0:
        return not any(dominates(o, own) for o in others)
    points = [*others, own]
    me = len(others)
    better = 0
    for front in nondominated_fronts(points):
        if me in front:
            if better + len(front) <= n_promoted:
                return True
            crowd = dict(zip(front, crowding_distance([points[i] for i in front]), strict=True))
            ahead = sum(1 for i in front if i != me and crowd[i] > crowd[me])
            return ahead < n_promoted - better
        better += len(front)
        if better >= n_promoted:
            return False
    raise AssertionError("unreachable: every point is in a front")


@dataclass(frozen=True)
class RungResult:
    """One candidate at one rung: what it is ranked on, and the decision."""

    rung: int  # 0 = the first rung
    epoch: int
    val_accuracy: float
    costs: tuple[float, ...]  # the study's cost objectives, in the study's order
    promoted: bool
    competitors: int  # candidates that reached this rung before it

    def loss(self) -> tuple[float, ...]:
        return (1.0 - self.val_accuracy, *self.costs)

    def to_dict(self) -> dict[str, Any]:
        return {"rung": self.rung, "epoch": self.epoch, "val_accuracy": self.val_accuracy,
                "costs": list(self.costs), "promoted": self.promoted, "competitors": self.competitors}


#: Records a rung result and decides it: given (rung, epoch, val accuracy, costs) returns the RungResult.
RungJudge = Callable[[int, int, float, tuple[float, ...]], RungResult]


@dataclass
class RungGate:
    """A trial's ``on_epoch`` callback under multi-fidelity: at each rung epoch, asks ``judge`` (the study
    layer, which records the result and knows the competitors) and stops training when not promoted.

    The costs ranked are ``cost_names`` (the study's objectives other than accuracy) read from the last
    figures given to :meth:`set_costs`; the accuracy ranked is the best validation accuracy so far (the
    weights training keeps)."""

    rungs: tuple[int, ...]
    cost_names: tuple[str, ...]
    judge: RungJudge
    final: bool = False  # also judged after full training (the final rung, FidelityConfig.final_rung)
    costs: tuple[float, ...] = ()
    results: list[RungResult] = field(default_factory=list)
    best: float = 0.0

    def set_costs(self, figures: object) -> None:
        """Take the ranked costs from ``figures`` (a CostReport, or a ProxyCost before the precheck)."""
        self.costs = tuple(float(getattr(figures, name)) for name in self.cost_names)

    @property
    def stopped(self) -> RungResult | None:
        """The rung the candidate stopped at, or None (promoted through every rung)."""
        return self.results[-1] if self.results and not self.results[-1].promoted else None

    def __call__(self, epoch: int, val_acc: float) -> bool:
        self.best = max(self.best, val_acc)
        if epoch not in self.rungs:
            return False
        result = self.judge(self.rungs.index(epoch), epoch, self.best, self.costs)
        self.results.append(result)
        return not result.promoted

    def after_training(self, epochs: int, best_val_acc: float) -> bool:
        """With ``final``, judge the candidate trained fully (``epochs``, its best validation accuracy) at the
        final rung, numbered ``len(rungs)``; whether it stops there."""
        if not self.final or self.stopped is not None:
            return False
        self.best = max(self.best, best_val_acc)
        result = self.judge(len(self.rungs), epochs, self.best, self.costs)
        self.results.append(result)
        return not result.promoted

    def is_final(self, result: RungResult) -> bool:
        return result.rung == len(self.rungs)
