"""Training: ``train(model, features, cfg) -> TrainResult``, top to bottom.

Class-weighted cross-entropy (weights from the training split: imbalanced data is the norm),
AdamW/Adam/SGD with a cosine learning-rate schedule, accuracy on the validation split each epoch.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from nas.candidate import TrainConfig
from nas.data.frontend import FeatureSet

log = logging.getLogger(__name__)

# Called after each epoch with (epoch, validation accuracy); returning True stops training early.
EpochCallback = Callable[[int, float], bool]


@dataclass(frozen=True)
class TrainResult:
    val_accuracy: float
    epochs_run: int
    seconds: float
    history: tuple[dict[str, float], ...] = field(default=())
    stopped_early: bool = False


def cosine_lr(step: int, total: int, base: float, warmup: int = 10) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """Logits of ``model`` for features (N, F, T)."""
    model.eval()
    outs = [model(torch.from_numpy(x[i:i + batch])) for i in range(0, len(x), batch)]
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


def train(model: nn.Module, data: FeatureSet, cfg: TrainConfig, *, epochs: int | None = None,
          seed: int = 0, on_epoch: EpochCallback | None = None,
          teacher: nn.Module | None = None, distill_t: float = 4.0, distill_w: float = 0.0) -> TrainResult:
    """Train ``model`` in place on ``data``'s train split; report validation accuracy.

    Args:
        epochs: overrides ``cfg.epochs`` (fine-tuning after pruning uses ``cfg.finetune_epochs``).
        on_epoch: early-stopping hook, see :data:`EpochCallback`.
        teacher, distill_t, distill_w: optional knowledge distillation from a trained teacher.
    """
    n_epochs = cfg.epochs if epochs is None else epochs
    gen = torch.Generator().manual_seed(seed)
    x_train, y_train = data.split("train")
    x_val, y_val = data.split("valid")
    weight = torch.from_numpy(data.class_weights) if cfg.class_weighted else None
    loss_fn = nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)
    opt = _optimizer(model, cfg)
    steps_per_epoch = max(1, math.ceil(len(x_train) / cfg.batch_size))
    total = steps_per_epoch * max(1, n_epochs)
    history: list[dict[str, float]] = []
    start, step, stopped = time.perf_counter(), 0, False
    val_acc = accuracy(predict(model, x_val), y_val) if n_epochs == 0 else 0.0
    for epoch in range(n_epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=gen).numpy()
        running = 0.0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            if len(idx) < 2:  # batch-norm needs two samples
                continue
            xb, yb = torch.from_numpy(x_train[idx]), torch.from_numpy(y_train[idx])  # (B, F, T), (B,)
            for g in opt.param_groups:
                g["lr"] = cosine_lr(step, total, cfg.learning_rate)
            logits = model(xb)  # (B, classes)
            loss = loss_fn(logits, yb)
            if teacher is not None and distill_w > 0:
                with torch.no_grad():
                    soft = torch.softmax(teacher(xb) / distill_t, dim=1)
                kd = nn.functional.kl_div(torch.log_softmax(logits / distill_t, dim=1), soft,
                                          reduction="batchmean") * distill_t ** 2
                loss = (1 - distill_w) * loss + distill_w * kd
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += float(loss.detach()) * len(idx)
            step += 1
        val_acc = accuracy(predict(model, x_val), y_val)
        history.append({"epoch": epoch + 1, "loss": running / max(1, len(order)), "val_accuracy": val_acc})
        log.debug("epoch %d loss %.4f val %.3f", epoch + 1, history[-1]["loss"], val_acc)
        if on_epoch is not None and epoch + 1 < n_epochs and on_epoch(epoch + 1, val_acc):
            stopped = True
            break
    model.eval()
    return TrainResult(val_acc, len(history), time.perf_counter() - start, tuple(history), stopped)
