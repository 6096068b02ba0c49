"""Training: ``train(model, features, cfg) -> TrainResult``, top to bottom.

Class-weighted cross-entropy (weights from the training split: imbalanced data is the norm),
AdamW/Adam/SGD with a cosine learning-rate schedule, augmentation of training batches
(:mod:`nas.data.augment`), accuracy on the validation split each epoch, and the weights of the best
validation epoch restored at the end (``keep_best``). A candidate still near chance after
``chance_epochs`` while its loss falls is stopped (``TrainResult.not_learning``).

Runs on the device :func:`resolve_device` picks (CUDA when there is one, unless told otherwise), with
the features moved there once (:class:`DeviceFeatures`) and bfloat16/float16 autocast on CUDA. The
model is handed back on the CPU: pruning, quantization, export and the interpreters run there.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from nas.candidate import TrainConfig
from nas.data.augment import Augmenter
from nas.data.frontend import FeatureSet
from nas.errors import ConfigError

log = logging.getLogger(__name__)

# Called after each epoch with (epoch, validation accuracy); returning True stops training early.
EpochCallback = Callable[[int, float], bool]


@dataclass(frozen=True)
class Distillation:
    """Knowledge distillation from a trained ``teacher``: the loss mixes in ``weight`` x the KL divergence of
    the softened (``temperature``) outputs. No teacher, or weight 0: plain training."""

    teacher: nn.Module | None = None
    temperature: float = 4.0
    weight: float = 0.0

    @property
    def active(self) -> bool:
        return self.teacher is not None and self.weight > 0


Accelerator = Literal["auto", "cpu", "cuda"]
ACCELERATORS: tuple[str, ...] = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainResult:
    """``val_accuracy`` is that of the weights the model holds afterwards (the best epoch's with
    ``keep_best``); ``not_learning`` holds the reason when the chance-level rule stopped it."""

    val_accuracy: float
    epochs_run: int
    seconds: float
    history: tuple[dict[str, float], ...] = field(default=())
    stopped_early: bool = False
    best_epoch: int = 0
    not_learning: str | None = None
    device: str = "cpu"


def cuda_available() -> bool:
    return bool(torch.cuda.is_available())


def resolve_device(accelerator: str = "auto") -> torch.device:
    """The torch device for ``accelerator``: ``auto`` is CUDA when one is visible, else the CPU.

    ``cuda`` means the first device ``CUDA_VISIBLE_DEVICES`` leaves visible (torch reads it).

    Raises:
        ConfigError: an unknown name, or ``cuda`` on a machine without a usable CUDA device.
    """
    if accelerator not in ACCELERATORS:
        raise ConfigError(f"accelerator '{accelerator}': choose one of {', '.join(ACCELERATORS)}")
    if accelerator == "cpu":
        return torch.device("cpu")
    if cuda_available():
        return torch.device("cuda")
    if accelerator == "cuda":
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        hint = f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else ""
        raise ConfigError(f"accelerator 'cuda': no CUDA device is available{hint}; use --accelerator auto or cpu")
    return torch.device("cpu")


@dataclass(frozen=True, eq=False)
class DeviceFeatures:
    """The training and validation splits as tensors on one device: moved once per trial, indexed per batch."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    device: torch.device

    @classmethod
    def of(cls, data: FeatureSet, device: torch.device | str = "cpu") -> DeviceFeatures:
        dev = torch.device(device)
        x_train, y_train = data.split("train")
        x_val, y_val = data.split("valid")
        move = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(dev)  # noqa: E731
        return cls(move(x_train), move(y_train), move(x_val), move(y_val), dev)


def chance_level(y_val: np.ndarray | torch.Tensor, n_classes: int) -> float:
    """Accuracy of always answering the most frequent validation class (1/n for balanced classes)."""
    y = y_val.cpu().numpy() if isinstance(y_val, torch.Tensor) else np.asarray(y_val)
    if len(y) == 0:
        return 1.0 / max(1, n_classes)
    return float(np.bincount(y, minlength=n_classes).max() / len(y))


def cosine_lr(step: int, total: int, base: float, warmup: int = 10) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray | torch.Tensor, batch: int = 256) -> np.ndarray:
    """Logits of ``model`` for features (N, F, T), computed where the model's weights are."""
    model.eval()
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    xt = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    outs = [model(xt[i:i + batch].to(dev)).float().cpu() for i in range(0, len(xt), batch)]
    return torch.cat(outs).numpy() if outs else np.zeros((0, 0), dtype=np.float32)


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == y).mean()) if len(y) else 0.0


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.learning_rate, momentum=0.9, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)


def _amp_dtype(device: torch.device, amp: bool | None) -> torch.dtype | None:
    """Autocast dtype: bfloat16 on CUDA where supported (no loss scaling needed), else float16; None on
    the CPU (CPU autocast is slower than float32 for these small convolutions) or when ``amp`` is False."""
    if device.type != "cuda" or amp is False:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def not_learning_reason(history: list[dict[str, float]], best: float, chance: float, cfg: TrainConfig
                        ) -> str | None:
    """Why training should stop as not learning, or None: after ``cfg.chance_epochs`` epochs the best
    validation accuracy is within ``cfg.chance_margin`` of chance although the training loss fell
    (by 10 % or more of its first epoch's value: the model fits the training data, nothing that carries over)."""
    if cfg.chance_epochs <= 0 or len(history) < cfg.chance_epochs or best > chance + cfg.chance_margin:
        return None
    first, last = history[0]["loss"], history[-1]["loss"]
    if not last < 0.9 * first:
        return None
    return (f"does not learn with these settings: validation accuracy {best:.3f} after {len(history)} epochs "
            f"(chance {chance:.3f}) while the training loss fell {first:.3f} -> {last:.3f}")


def train(model: nn.Module, data: FeatureSet, cfg: TrainConfig, *, epochs: int | None = None,
          seed: int = 0, on_epoch: EpochCallback | None = None,
          distill: Distillation = Distillation(),
          device: torch.device | str = "cpu", tensors: DeviceFeatures | None = None,
          amp: bool | None = None, augment: bool = True, stop_at_chance: bool = True) -> TrainResult:
    """Train ``model`` in place on ``data``'s train split; report validation accuracy.

    Args:
        epochs: overrides ``cfg.epochs`` (fine-tuning after pruning uses ``cfg.finetune_epochs``).
        on_epoch: early-stopping hook, see :data:`EpochCallback`.
        distill: optional knowledge distillation from a trained teacher.
        device, tensors: where to train; ``tensors`` are the splits already on that device (a trial
            moves them once and passes them to every training phase).
        amp: mixed precision on CUDA (default on; QAT passes False: fake quantization wants float32).
        augment: apply ``cfg``'s augmentation (training batches only).
        stop_at_chance: apply the chance-level rule (main training; not fine-tuning).

    The model is returned on the CPU in eval mode, holding the best validation epoch's weights when
    ``cfg.keep_best``. Each history entry has ``seconds`` (the epoch) and ``compute_seconds`` (forward,
    backward and optimizer steps, plus the validation forward passes).
    """
    n_epochs = cfg.epochs if epochs is None else epochs
    dev = tensors.device if tensors is not None else torch.device(device)
    td = tensors if tensors is not None else DeviceFeatures.of(data, dev)
    model.to(dev)
    teacher = distill.teacher if distill.active else None
    if teacher is not None:
        teacher.to(dev)
    gen = torch.Generator().manual_seed(seed)
    aug = Augmenter(data, cfg, dev, seed) if augment and cfg.augments else None
    weight = torch.from_numpy(data.class_weights).to(dev) if cfg.class_weighted else None
    loss_fn = nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)
    opt = _optimizer(model, cfg)
    amp_dtype = _amp_dtype(dev, amp)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)  # a no-op unless float16
    autocast = (torch.autocast("cuda", dtype=amp_dtype) if amp_dtype is not None
                else contextlib.nullcontext())
    n_train = len(td.y_train)
    steps_per_epoch = max(1, math.ceil(n_train / cfg.batch_size))
    total = steps_per_epoch * max(1, n_epochs)
    chance = chance_level(td.y_val, data.n_classes)
    history: list[dict[str, float]] = []
    start, step, stopped, reason = time.perf_counter(), 0, False, None
    val_acc = accuracy(predict(model, td.x_val), td.y_val.cpu().numpy()) if n_epochs == 0 else 0.0
    y_val = td.y_val.cpu().numpy()
    best_acc, best_epoch, best_state = -1.0, 0, None
    for epoch in range(n_epochs):
        t_epoch = time.perf_counter()
        compute = 0.0
        model.train()
        order = torch.randperm(n_train, generator=gen).to(dev)
        running = torch.zeros((), device=dev)
        for i in range(0, n_train, cfg.batch_size):
            rows = order[i:i + cfg.batch_size]
            if len(rows) < 2:  # batch-norm needs two samples
                continue
            xb, yb = td.x_train[rows], td.y_train[rows]  # (B, F, T), (B,)
            batch = aug(xb, yb, rows) if aug is not None else None
            if batch is not None:
                xb = batch.x
            for g in opt.param_groups:
                g["lr"] = cosine_lr(step, total, cfg.learning_rate)
            _sync(dev)
            t = time.perf_counter()
            with autocast:
                logits = model(xb)  # (B, classes)
                if batch is not None and batch.y2 is not None:
                    loss = batch.lam * loss_fn(logits, yb) + (1 - batch.lam) * loss_fn(logits, batch.y2)
                else:
                    loss = loss_fn(logits, yb)
                if teacher is not None:
                    t_kd, w_kd = distill.temperature, distill.weight
                    with torch.no_grad():
                        soft = torch.softmax(teacher(xb).to(dev, torch.float32) / t_kd, dim=1)
                    kd = nn.functional.kl_div(torch.log_softmax(logits.float() / t_kd, dim=1), soft,
                                              reduction="batchmean") * t_kd ** 2
                    loss = (1 - w_kd) * loss + w_kd * kd
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            running += loss.detach().float() * len(rows)
            _sync(dev)
            compute += time.perf_counter() - t
            step += 1
        t = time.perf_counter()
        val_acc = accuracy(predict(model, td.x_val), y_val)
        compute += time.perf_counter() - t
        if val_acc > best_acc:
            best_acc, best_epoch = val_acc, epoch + 1
            if cfg.keep_best:
                best_state = copy.deepcopy(model.state_dict())
        history.append({"epoch": epoch + 1, "loss": float(running) / max(1, n_train), "val_accuracy": val_acc,
                        "seconds": time.perf_counter() - t_epoch, "compute_seconds": compute})
        log.debug("epoch %d loss %.4f val %.3f", epoch + 1, history[-1]["loss"], val_acc)
        if stop_at_chance and epoch + 1 < n_epochs:
            reason = not_learning_reason(history, best_acc, chance, cfg)
            if reason is not None:
                log.info("stopped at epoch %d: %s", epoch + 1, reason)
                stopped = True
                break
        if on_epoch is not None and epoch + 1 < n_epochs and on_epoch(epoch + 1, val_acc):
            stopped = True
            break
    if best_state is not None and best_acc > val_acc:
        model.load_state_dict(best_state)
        val_acc = best_acc
    model.to("cpu").eval()
    if teacher is not None:
        teacher.to("cpu")
    return TrainResult(val_acc, len(history), time.perf_counter() - start, tuple(history), stopped,
                       best_epoch if cfg.keep_best else len(history), reason, str(dev))
