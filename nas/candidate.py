"""Value objects that cross stage boundaries: what one trial is asked to build.

A search space (``nas.space``) samples a :class:`Candidate`; the data stage reads its
:class:`FrontendConfig`, the model builders its :class:`ArchConfig`, the trainer its
:class:`TrainConfig`, compression its prune ratio and bit-width. All are frozen and
JSON-serialisable (``to_dict``/``from_dict``) so they can be stored beside the ``.tflite``
and used as cache keys.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FeatureKind = Literal["logmel", "mfcc"]
PadMode = Literal["zeros", "wrap", "reflect"]
Normalization = Literal["none", "global", "per_clip"]
Level = Literal["none", "peak"]


@dataclass(frozen=True)
class FrontendConfig:
    """Audio frontend: waveform -> (features, frames) matrix, computed on the device too.

    Attributes:
        kind: ``logmel`` (log mel energies) or ``mfcc``.
        sample_rate: rate the audio is resampled to, Hz.
        clip_seconds: every clip is cut or padded to this length.
        win_ms / hop_ms: STFT window and hop in milliseconds.
        n_mels: mel bands; ``n_mfcc`` cepstral coefficients when ``kind == "mfcc"``.
        pad_mode: how clips shorter than ``clip_seconds`` are padded.
        normalization: ``global`` (train-split mean/std per coefficient), ``per_clip`` or ``none``.
        level: ``peak`` scales each clip window to a peak of 1 before the frontend (a gain stage on the
            device), so the recording level of a speaker or microphone does not shift every feature;
            ``none`` keeps the level as recorded.
    """

    kind: FeatureKind = "logmel"
    sample_rate: int = 16000
    clip_seconds: float = 1.0
    win_ms: float = 32.0
    hop_ms: float = 20.0
    n_mels: int = 32
    n_mfcc: int = 13
    pad_mode: PadMode = "zeros"
    normalization: Normalization = "global"
    level: Level = "none"

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.win_ms / 1000.0))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000.0))

    @property
    def n_fft(self) -> int:
        return 1 << max(0, math.ceil(math.log2(self.win_length)))

    @property
    def n_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    @property
    def n_frames(self) -> int:
        # torch.stft with center=True yields 1 + n_samples // hop frames.
        return 1 + self.n_samples // self.hop_length

    @property
    def n_features(self) -> int:
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels

    @property
    def feature_shape(self) -> tuple[int, int]:
        """(features, frames) of one clip: the model input without the batch axis."""
        return (self.n_features, self.n_frames)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        coeffs = f"{self.n_mfcc} MFCC" if self.kind == "mfcc" else f"{self.n_mels} mel"
        return (
            f"{coeffs} @{self.sample_rate // 1000}kHz win {self.win_ms:g}ms hop {self.hop_ms:g}ms "
            f"{self.clip_seconds:g}s"
        )


@dataclass(frozen=True)
class ArchConfig:
    """A model family name plus the hyper-parameters its builder takes."""

    family: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, family: str, **params: Any) -> ArchConfig:
        return cls(family=family, params=tuple(sorted((k, _freeze(v)) for k, v in params.items())))

    def get(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)

    def as_kwargs(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.params}

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, **self.as_kwargs()}

    def describe(self) -> str:
        inner = " ".join(f"{k}={_short(v)}" for k, v in self.params)
        return f"{self.family}({inner})"


@dataclass(frozen=True)
class TrainConfig:
    """How a candidate is trained; ``finetune_epochs`` applies after pruning.

    Augmentation (training batches only, on the fly, deterministic from the trial's seed; all off by
    default, see :mod:`nas.data.augment`): ``time_shift_ms`` (largest shift either way, the gap filled
    with the frontend's silence), ``gain_db`` (random level within +-gain_db), ``noise_prob`` (share of
    clips mixed with the dataset's background noise at an SNR drawn from ``noise_snr_db`` ..
    ``noise_snr_max_db``; ignored where the dataset has no noise), ``time_masks`` x up to
    ``time_mask_frames`` and ``freq_masks`` x up to ``freq_mask_bins`` (SpecAugment), ``mixup_alpha``
    (Beta(alpha, alpha) mixup, 0 = off).

    ``keep_best``: the weights with the best validation accuracy are restored after training (they are
    what is pruned, quantized and exported). ``chance_epochs``: after that many epochs (0 = never), a
    candidate whose best validation accuracy is still within ``chance_margin`` of chance while its loss
    falls is stopped and recorded as not learning.
    """

    epochs: int = 6
    batch_size: int = 32
    learning_rate: float = 3e-3
    optimizer: Literal["adam", "adamw", "sgd"] = "adamw"
    weight_decay: float = 1e-4
    finetune_epochs: int = 2
    class_weighted: bool = True
    label_smoothing: float = 0.0
    time_shift_ms: float = 0.0
    gain_db: float = 0.0
    noise_prob: float = 0.0
    noise_snr_db: float = 0.0
    noise_snr_max_db: float = 20.0
    time_masks: int = 0
    time_mask_frames: int = 0
    freq_masks: int = 0
    freq_mask_bins: int = 0
    mixup_alpha: float = 0.0
    keep_best: bool = True
    chance_epochs: int = 3
    chance_margin: float = 0.1

    @property
    def augments(self) -> bool:
        """Whether any augmentation is on."""
        return bool(self.time_shift_ms > 0 or self.gain_db > 0 or self.noise_prob > 0
                    or (self.time_masks > 0 and self.time_mask_frames > 0)
                    or (self.freq_masks > 0 and self.freq_mask_bins > 0) or self.mixup_alpha > 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Candidate:
    """One point of the joint search space: frontend x architecture x compression."""

    frontend: FrontendConfig
    arch: ArchConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    prune_ratio: float = 0.0
    prune_criterion: Literal["l1", "l2", "lamp", "fpgm", "bn_scale", "taylor"] = "l1"
    bits: int = 8
    qat: bool = False  # quantization-aware fine-tuning (int8 only)
    distill_weight: float = 0.0  # share of the distillation loss when ``teacher`` is set
    distill_temperature: float = 4.0
    teacher: str | None = None  # a .tflite/.pt path or "trial:N" of the same study

    def to_dict(self) -> dict[str, Any]:
        return {
            "frontend": self.frontend.to_dict(),
            "arch": self.arch.to_dict(),
            "train": self.train.to_dict(),
            "prune_ratio": self.prune_ratio,
            "prune_criterion": self.prune_criterion,
            "bits": self.bits,
            "qat": self.qat,
            "distill_weight": self.distill_weight,
            "distill_temperature": self.distill_temperature,
            "teacher": self.teacher,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        arch = dict(d["arch"])
        family = arch.pop("family")
        return cls(
            frontend=FrontendConfig(**d["frontend"]),
            arch=ArchConfig.of(family, **arch),
            train=TrainConfig(**d.get("train", {})),
            prune_ratio=float(d.get("prune_ratio", 0.0)),
            prune_criterion=d.get("prune_criterion", "l1"),
            bits=int(d.get("bits", 8)),
            qat=bool(d.get("qat", False)),
            distill_weight=float(d.get("distill_weight", 0.0)),
            distill_temperature=float(d.get("distill_temperature", 4.0)),
            teacher=d.get("teacher"),
        )

    def describe(self) -> str:
        return self.arch.describe()


def _freeze(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    return v


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple):
        return "x".join(_short(x) for x in v)
    return str(v)
