"""One trial, end to end: Candidate -> features -> model -> (precheck) -> train -> prune -> quantize ->
``.tflite`` -> accuracy of that file -> cost on every hardware profile -> :class:`TrialResult`.

Knows nothing of Optuna or the database: the study layer turns a TrialResult into objective values
and rows. A candidate that cannot be deployed or breaks a budget is a result (``status``
``infeasible`` with the reason), not an exception.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Protocol

import torch

from nas.candidate import Candidate
from nas.compress import prepare_qat, prune_model
from nas.data import AudioDataset, FeatureCache
from nas.deploy import check_agreement, evaluate_file, export_qat_tflite, export_tflite, load_teacher
from nas.errors import ConfigError
from nas.hardware import CostReport, HardwareProfile, price, price_all
from nas.hardware.proxy import clearly_within, proxy_cost
from nas.models import build_model, count_params
from nas.status import TrialStatus
from nas.study.fidelity import RungGate
from nas.train import DeviceFeatures, Distillation, EpochCallback, accuracy, predict, resolve_device, train

log = logging.getLogger(__name__)


class CostCache(Protocol):
    """Precheck figures by :func:`cost_key`: the cost of a graph, so a repeated candidate is exported once."""

    def get(self, key: str) -> CostReport | None: ...

    def put(self, key: str, report: CostReport) -> None: ...


def cost_key(candidate: Candidate, profile: HardwareProfile, input_shape: tuple[int, int], n_classes: int) -> str:
    """What the untrained export's cost depends on: the frontend, the architecture, the prune ratio, the
    bit-width and the input/output shapes, on one profile (its coefficients included)."""
    profile_fields = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in vars(profile).items()}
    text = json.dumps({"frontend": candidate.frontend.to_dict(), "arch": candidate.arch.to_dict(),
                       "prune_ratio": candidate.prune_ratio, "bits": candidate.bits, "input": list(input_shape),
                       "classes": n_classes, "profile": profile_fields}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class TrialContext:
    """What a worker holds across trials of one study."""

    dataset: AudioDataset
    cache: FeatureCache
    profiles: tuple[HardwareProfile, ...]  # the first is the primary target
    seed: int = 0
    precheck: bool = True
    max_latency_ms: float | None = None
    # energy: the rate average power is taken at; a hard limit on energy per inference (primary device)
    inference_rate_hz: float = 1.0
    max_energy_uj: float | None = None
    # Turns a teacher reference "trial:N" into .tflite bytes or a file (e.g. from the database);
    # without it, "trial:N" is looked up beside this trial's artifacts (trial-NNNN/model.tflite).
    teacher_resolver: Callable[[str], bytes | Path] | None = None
    cost_cache: CostCache | None = None
    accelerator: str = "auto"  # training device: auto (CUDA when there is one) | cpu | cuda

    @property
    def primary(self) -> HardwareProfile:
        return self.profiles[0]


@dataclass(frozen=True)
class TrialResult:
    """Everything one trial produced. ``costs`` maps profile name -> CostReport."""

    candidate: Candidate
    status: TrialStatus  # ok | infeasible | stopped (at a multi-fidelity rung: trained briefly, not exported)
    reason: str | None
    accuracy: float  # of the exported file, validation split
    test_accuracy: float  # of the exported file, test split
    float_accuracy: float  # of the torch model before export, validation split
    params: int
    macs: int
    tflite_bytes: int
    costs: dict[str, CostReport]
    seconds: dict[str, float]
    history: tuple[dict[str, float | str], ...] = ()  # train.py's epochs, plus "phase" after training
    confusion: tuple[tuple[int, ...], ...] = ()
    tflm_max_abs_diff: float | None = None
    stopped_early: bool = False
    artifact_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self, device: str) -> str:
        c = self.costs.get(device)
        figures = (f"lat {c.latency_ms:.2f}ms ram {c.ram_kb:.1f}KB flash {c.flash_kb:.1f}KB" if c else "")
        if c is not None and c.energy_uj is not None:
            figures += f" energy {c.energy_uj:.0f}uJ"
        if self.status != TrialStatus.OK:
            return f"{self.candidate.describe()} {self.candidate.bits}b {self.status}: {self.reason}"
        learns = " (not learning: stopped)" if self.extra.get("not_learning") else ""
        return (f"{self.candidate.describe()} {self.candidate.bits}b prune {self.candidate.prune_ratio:g} "
                f"acc {self.accuracy:.3f}{learns} {figures}")

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON (``trial.json``; a trial's stored details are this less ``costs``)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "artifact_dir"}
        return d | {"candidate": self.candidate.to_dict(), "costs": {k: v.to_dict() for k, v in self.costs.items()},
                    "history": list(self.history), "confusion": [list(x) for x in self.confusion]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrialResult:
        """A result read back from :meth:`to_dict`'s JSON; keys that are not fields (a worker's notes) are left
        out, and stored details without ``costs`` read back with none."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names} | {
            "candidate": Candidate.from_dict(d["candidate"]), "status": TrialStatus(d["status"]),
            "costs": {k: CostReport.from_dict(v) for k, v in d.get("costs", {}).items()},
            "history": tuple(d.get("history", ())), "confusion": tuple(tuple(r) for r in d.get("confusion", ()))})


def training_epochs(history: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The epochs of training proper in a trial's history (fine-tuning and QAT epochs carry a ``phase``)."""
    return [h for h in history if "phase" not in h]


def _budget_violation(report: CostReport, profile: HardwareProfile, max_latency_ms: float | None,
                      max_energy_uj: float | None = None) -> str | None:
    if not report.deployable:
        return report.reason or f"not deployable on {profile.name}"
    memory = profile.memory_violation(report.ram_kb, report.flash_kb)
    if memory:
        return memory
    if max_latency_ms is not None and report.latency_ms > max_latency_ms:
        return f"latency {report.latency_ms:.2f} ms exceeds the {max_latency_ms:g} ms deadline"
    if max_energy_uj is not None and report.energy_uj is not None and report.energy_uj > max_energy_uj:
        return f"energy {report.energy_uj:.1f} uJ per inference exceeds the {max_energy_uj:g} uJ limit"
    return None


def _untrained(candidate: Candidate, input_shape: tuple[int, int], n_classes: int) -> Any:
    """The candidate's model with its final shapes (pruned), untrained: what the precheck prices."""
    model = build_model(candidate.arch, input_shape, n_classes)
    prune_model(model, candidate.prune_ratio, "l1")  # per-layer ratio: same shapes whatever the criterion
    return model


def precheck(candidate: Candidate, ctx: TrialContext, input_shape: tuple[int, int], n_classes: int
             ) -> tuple[str | None, CostReport]:
    """Price the untrained, pruned, quantized export: the cost depends on the shapes, not the weights.

    Returns the budget violation (or None) and the report. With ``ctx.cost_cache``, a candidate whose
    graph was priced before (by any worker of the database) is not exported again.
    """
    key = cost_key(candidate, ctx.primary, input_shape, n_classes)
    report = ctx.cost_cache.get(key) if ctx.cost_cache else None
    if report is None:
        with torch.random.fork_rng(devices=[]):  # it may run mid-training: leave training's random stream alone
            model = _untrained(candidate, input_shape, n_classes)
        tfl = export_tflite(model, candidate.bits, None)
        report = price(tfl, ctx.primary, frontend=candidate.frontend, inference_rate_hz=ctx.inference_rate_hz)
        if ctx.cost_cache and report.latency_source == "estimated":  # measured figures are measured anew
            ctx.cost_cache.put(key, report)
    else:
        log.debug("precheck of %s from the cost cache", candidate.describe())
        report = report.at_rate(ctx.inference_rate_hz)  # the cache key does not hold the study's rate
    return _budget_violation(report, ctx.primary, ctx.max_latency_ms, ctx.max_energy_uj), report


def resolve_teacher(candidate: Candidate, ctx: TrialContext, out_dir: Path | None, input_shape: tuple[int, int],
                    n_classes: int) -> Any:
    """The candidate's distillation teacher as a module, or None when it has none."""
    ref = candidate.teacher
    if not ref or candidate.distill_weight <= 0:
        return None
    source: bytes | Path = Path(ref)
    if ref.startswith("trial:"):
        if ctx.teacher_resolver is not None:
            source = ctx.teacher_resolver(ref)
        elif out_dir is not None and ref[6:].isdigit():
            source = out_dir.parent / f"trial-{int(ref[6:]):04d}" / "model.tflite"
        else:
            raise ConfigError(f"teacher '{ref}': expected 'trial:N' with a number, or no artifact directory "
                              "to find that trial's model.tflite in")
    return load_teacher(source, input_shape=input_shape, n_classes=n_classes)


class Stopwatch:
    """Seconds per stage of one trial: ``with clock("export"): ...`` adds the block's time to ``seconds``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start


def run_trial(candidate: Candidate, ctx: TrialContext, out_dir: Path | None = None, *,
              on_epoch: EpochCallback | None = None,
              on_precheck: Callable[[CostReport], None] | None = None,
              rungs: RungGate | None = None) -> TrialResult:
    """Run one trial; write ``model.tflite``, ``candidate.json``, ``trial.json`` to ``out_dir``.

    ``on_precheck`` receives the precheck's cost report of a candidate that passed it (an early-stopping
    rule needs the cost before training). ``rungs``: multi-fidelity; every rung ranks the candidate on
    :func:`proxy_cost` (no export yet), the precheck runs once it is promoted from the first rung (only
    then is its export worth its seconds) and only when the proxy is near a budget (:func:`clearly_within`),
    and a candidate stopped at a rung is returned ``stopped``, not exported."""
    clock = Stopwatch()
    seconds = clock.seconds
    with clock("features"):
        feats = ctx.cache.features(ctx.dataset, candidate.frontend)
    shape, n_classes = feats.input_shape, feats.n_classes
    report: CostReport | None = None
    deferred = ctx.precheck and rungs is not None and bool(rungs.rungs)

    def run_precheck() -> str | None:
        nonlocal report
        with clock("precheck"):
            violation, report = precheck(candidate, ctx, shape, n_classes)
        if violation:
            log.info("precheck: %s infeasible (%s), not trained further", candidate.describe(), violation)
            return violation
        if rungs is not None and not deferred:  # deferred: every rung ranks on the proxy, one scale for all
            rungs.set_costs(report)
        if on_precheck is not None:
            on_precheck(report)
        return None

    violation: str | None = None
    proxy = None
    precheck_pending = False  # deferred: the precheck still to run once the candidate passes the first rung
    if deferred and rungs is not None:
        with clock("proxy"):
            proxy = proxy_cost(_untrained(candidate, shape, n_classes), torch.zeros(1, *shape), candidate.bits,
                               ctx.primary, candidate.frontend, ctx.inference_rate_hz)
            rungs.set_costs(proxy)
        # no budget near: the export would only confirm it, and the final pricing measures the file anyway
        precheck_pending = not clearly_within(proxy, ctx.primary, ctx.max_latency_ms, ctx.max_energy_uj)
    elif ctx.precheck:
        violation = run_precheck()
        if violation:
            return _infeasible(candidate, ctx, violation, report, seconds)

    def after_epoch(epoch: int, val_acc: float) -> bool:
        nonlocal violation, precheck_pending
        if any(check(epoch, val_acc) for check in (on_epoch, rungs) if check is not None):
            return True
        if precheck_pending and rungs is not None and rungs.results:  # promoted from the first rung
            precheck_pending = False
            violation = run_precheck()
            return violation is not None
        return False

    torch.manual_seed(ctx.seed)  # the same candidate gets the same initial weights, precheck or not
    model = build_model(candidate.arch, feats.input_shape, feats.n_classes)
    teacher = resolve_teacher(candidate, ctx, out_dir, feats.input_shape, feats.n_classes)
    distill = Distillation(teacher, candidate.distill_temperature, candidate.distill_weight)
    device = resolve_device(ctx.accelerator)
    on_device = DeviceFeatures.of(feats, device)  # once per trial, shared by every training phase
    tr = train(model, feats, candidate.train, seed=ctx.seed, on_epoch=after_epoch, tensors=on_device,
               distill=distill)
    # a deferred precheck ran inside training (between two epochs): its seconds are its own, not training's
    seconds["train"] = tr.seconds - (seconds.get("precheck", 0.0) if deferred else 0.0)
    history: list[dict[str, float | str]] = [dict(h) for h in tr.history]
    rung_log = {"rungs": [r.to_dict() for r in rungs.results]} if rungs is not None else {}
    if violation:
        return _infeasible(candidate, ctx, violation, report, seconds, tuple(history), rung_log)
    if rungs is not None and not tr.stopped_early:  # the final rung: before pruning, fine-tuning and the export
        rungs.after_training(tr.epochs_run, tr.val_accuracy)
    stop = rungs.stopped if rungs is not None else None
    if stop is not None:
        where = f"rung {stop.rung + 1} (epoch {stop.epoch}, validation accuracy {stop.val_accuracy:.3f})"
        reason = (f"stopped at the final {where}: a file recorded before it is as accurate at no more cost"
                  if rungs is not None and rungs.is_final(stop) else
                  f"stopped at {where}: not among the best 1/eta of {stop.competitors + 1} candidates there")
        figures = report or proxy
        params, macs = (figures.params, figures.macs) if figures is not None else (count_params(model), 0)
        return TrialResult(candidate, TrialStatus.STOPPED, reason, 0.0, 0.0, stop.val_accuracy, params, macs,
                           0, {ctx.primary.name: report} if report else {}, seconds, tuple(history),
                           stopped_early=True, artifact_dir=None, extra=rung_log)
    if teacher is None:  # fine-tuning distils from the trained, unpruned float model
        distill = Distillation(copy.deepcopy(model).eval(), candidate.distill_temperature, 0.5)
    if candidate.prune_ratio > 0 and not tr.stopped_early:
        with clock("prune"):
            prune_model(model, candidate.prune_ratio, candidate.prune_criterion, data=feats.split("train"))
            ft = train(model, feats, candidate.train, epochs=candidate.train.finetune_epochs, seed=ctx.seed + 1,
                       tensors=on_device, stop_at_chance=False, distill=distill)
        history += [{**h, "phase": "finetune"} for h in ft.history]

    x_val, y_val = feats.split("valid")
    x_test, y_test = feats.split("test")
    float_acc = accuracy(predict(model, x_val), y_val)
    float_test_acc = accuracy(predict(model, x_test), y_test)
    qat = candidate.qat and candidate.bits == 8 and not tr.stopped_early
    if qat:  # int8 fine-tuning with fake quantization, then the PT2E export
        with clock("qat_prepare"):  # capturing the graph and inserting fake quantization: not training
            qmodel = prepare_qat(model)
        # on the CPU: the PT2E fake-quantized graph belongs to quantization, which stays there
        cpu_data = on_device if on_device.device.type == "cpu" else DeviceFeatures.of(feats, "cpu")
        qt = train(qmodel, feats, replace(candidate.train, learning_rate=candidate.train.learning_rate * 0.2),
                   epochs=max(1, candidate.train.finetune_epochs), seed=ctx.seed + 2, tensors=cpu_data, amp=False,
                   stop_at_chance=False, distill=distill)
        history += [{**h, "phase": "qat"} for h in qt.history]
        seconds["qat"] = qt.seconds
        with clock("export"):  # the export's own time, QAT training not included
            tfl = export_qat_tflite(qmodel)
    else:
        with clock("export"):
            tfl = export_tflite(model, candidate.bits, feats.split("train")[0])

    with clock("evaluate"):
        acc, confusion = evaluate_file(tfl, x_val, y_val)
        test_acc, _ = evaluate_file(tfl, x_test, y_test)
        # TFLM must compute what LiteRT computed for the accuracy: a mismatch raises ExportError.
        agreement = check_agreement(tfl, x_val[:32])
    tflm_diff = agreement.max_abs_diff if agreement.ran else None  # not run: the cost report says why

    with clock("price"):
        costs = {r.device: r for r in price_all(tfl, ctx.profiles, frontend=candidate.frontend,
                                                inference_rate_hz=ctx.inference_rate_hz)}
    primary = costs[ctx.primary.name]
    violation = _budget_violation(primary, ctx.primary, ctx.max_latency_ms, ctx.max_energy_uj)

    result = TrialResult(
        candidate=candidate, status=TrialStatus.INFEASIBLE if violation else TrialStatus.OK,
        reason=violation or tr.not_learning,
        accuracy=acc, test_accuracy=test_acc, float_accuracy=float_acc,
        params=count_params(model), macs=primary.macs, tflite_bytes=len(tfl), costs=costs,
        seconds=seconds, history=tuple(history), confusion=tuple(tuple(int(v) for v in r) for r in confusion),
        tflm_max_abs_diff=tflm_diff, stopped_early=tr.stopped_early,
        artifact_dir=str(out_dir) if out_dir else None,
        extra={"accuracy_drop": float_acc - acc, "test_float_accuracy": float_test_acc,
               "qat": qat, "teacher": candidate.teacher if teacher is not None else None,
               "agreement": agreement.to_dict(), "normalization": feats.normalization(),
               "best_epoch": tr.best_epoch, "train_device": tr.device,
               **({"not_learning": tr.not_learning} if tr.not_learning else {}), **rung_log},
    )
    if out_dir is not None:
        write_artifacts(result, tfl, out_dir)
    return result


def _infeasible(candidate: Candidate, ctx: TrialContext, violation: str, report: CostReport | None,
                seconds: dict[str, float], history: tuple[dict[str, float | str], ...] = (),
                extra: dict[str, Any] | None = None) -> TrialResult:
    """A candidate the precheck refused: never (further) trained, never exported."""
    assert report is not None  # a violation comes with the report that shows it
    return TrialResult(candidate, TrialStatus.INFEASIBLE, violation, 0.0, 0.0, 0.0, report.params, report.macs, 0,
                       {ctx.primary.name: report}, seconds, history, extra={"precheck": True, **(extra or {})})


def write_artifacts(result: TrialResult, tfl: bytes, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model.tflite").write_bytes(tfl)
    (out_dir / "candidate.json").write_text(json.dumps(result.candidate.to_dict(), indent=2))
    (out_dir / "trial.json").write_text(json.dumps(result.to_dict(), indent=2, default=float))
