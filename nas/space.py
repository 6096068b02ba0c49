"""Search spaces: YAML -> validated parameter specs -> Optuna distributions -> :class:`Candidate`.

A space file has five sections::

    name: demo
    description: ...
    frontend:    {FrontendConfig field: spec}
    families:    {family name: {builder parameter: spec}}   # conditional on the sampled family
    compression: {prune_ratio: spec, prune_criterion: spec, bits: spec}
    training:    {TrainConfig field: spec}

A spec is a fixed value (``16``), a list of choices (``[8, 16, 32]``), ``{choices: [...]}``,
``{int: [lo, hi], step: 1, log: false}`` or ``{float: [lo, hi], step: null, log: false}``.
Every problem is reported with the file, the key path and what was expected.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import optuna

from nas import yamlfile
from nas.candidate import ArchConfig, Candidate, FrontendConfig, TrainConfig
from nas.compress.prune import CRITERIA
from nas.compress.quantize import BITS_OFFERED
from nas.errors import ConfigError
from nas.models import FAMILIES, family_params
from nas.models.layers import ACTIVATIONS

SPACES_DIR = yamlfile.shipped("search_spaces")
SECTIONS = ("name", "description", "frontend", "families", "compression", "training", "references")
#: The sections of a reference candidate, and how each names its Optuna parameters.
REFERENCE_KEYS = ("frontend", "family", "arch", "compression", "training")
COMPRESSION_KEYS = {"prune_ratio": 0.0, "prune_criterion": "l1", "bits": 8, "qat": False,
                    "distill_weight": 0.0, "distill_temperature": 4.0, "teacher": None}
FRONTEND_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(FrontendConfig)}  # every field has one
TRAIN_DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}
ENUMS = {
    "kind": ("logmel", "mfcc"), "pad_mode": ("zeros", "wrap", "reflect"),
    "normalization": ("none", "global", "per_clip"), "level": ("none", "peak"), "optimizer": ("adam", "adamw", "sgd"),
    "prune_criterion": CRITERIA, "activation_fn": ("relu", "gelu", "prelu", "relu6"),
    "residual": ("none", "basic", "bottleneck"), "head": ("time", "global"),
}


@dataclass(frozen=True)
class ParamSpec:
    """One searchable (or fixed) parameter."""

    kind: str  # fixed | choice | int | float
    values: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False

    def sample(self, trial: optuna.Trial, name: str) -> Any:
        if self.kind == "fixed":
            return self.values[0]
        if self.kind == "choice":
            return trial.suggest_categorical(name, list(self.values))
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)

    def admits(self, value: Any) -> bool:
        """Whether ``value`` is one this spec can take (the check for enqueued starting points)."""
        if self.kind in ("fixed", "choice"):
            return any(value == v and type(value) is type(v) or (isinstance(v, float) and value == v)
                       for v in self.values)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not isinstance(value, int):
            return False
        if not self.low - 1e-12 <= value <= self.high + 1e-12:
            return False
        if self.step:
            k = (value - self.low) / self.step
            return abs(k - round(k)) < 1e-6
        return True

    def size(self) -> float:
        """Number of distinct values (inf for a continuous range)."""
        if self.kind in ("fixed", "choice"):
            return len(self.values)
        if self.kind == "int":
            return (int(self.high) - int(self.low)) // int(self.step or 1) + 1
        if self.step:
            return math.floor((self.high - self.low) / self.step + 1e-9) + 1
        return math.inf

    def describe(self) -> str:
        if self.kind == "fixed":
            return repr(self.values[0])
        if self.kind == "choice":
            return "{" + ", ".join(map(str, self.values)) + "}"
        step = f" step {self.step:g}" if self.step else ""
        return f"{self.kind} [{self.low:g}, {self.high:g}]{step}{' log' if self.log else ''}"


@dataclass(frozen=True)
class StartingPoint:
    """A candidate a study runs first (a space's reference model, or a point of an earlier study's front):
    Optuna parameters by name; whatever it leaves out is sampled as usual."""

    name: str
    params: dict[str, Any]


@dataclass(frozen=True)
class SearchSpace:
    name: str
    description: str
    path: str
    frontend: dict[str, ParamSpec]
    families: dict[str, dict[str, ParamSpec]]
    compression: dict[str, ParamSpec]
    training: dict[str, ParamSpec]
    references: tuple[StartingPoint, ...] = ()

    def param_specs(self) -> dict[str, ParamSpec]:
        """Every parameter by the name :meth:`sample` gives it in Optuna (fixed ones included)."""
        out = {f"frontend.{k}": s for k, s in self.frontend.items()}
        out["family"] = ParamSpec("choice", tuple(self.families))
        out |= {f"{fam}.{k}": s for fam, params in self.families.items() for k, s in params.items()}
        out |= {k: s for k, s in self.compression.items()}
        out |= {f"train.{k}": s for k, s in self.training.items()}
        return out

    def misfit(self, params: dict[str, Any]) -> str | None:
        """Why ``params`` is not a point of this space, or None when it is."""
        specs = self.param_specs()
        family = params.get("family")
        for name, value in params.items():
            spec = specs.get(name)
            if spec is None:
                return f"{name}: not a parameter of space '{self.name}'"
            if not spec.admits(value):
                return f"{name}: {value!r} is outside {spec.describe()}"
            fam = name.split(".", 1)[0]
            if fam in self.families and "." in name and fam != family:
                return f"{name}: belongs to family {fam}, but the point's family is {family!r}"
        return None

    def to_optuna(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` less the fixed ones (Optuna never suggests those)."""
        specs = self.param_specs()
        return {k: v for k, v in params.items() if specs[k].kind != "fixed"}

    def sample(self, trial: optuna.Trial) -> Candidate:
        """Sample frontend, family (and its conditional parameters), pruning and bits jointly."""
        fe = {k: s.sample(trial, f"frontend.{k}") for k, s in self.frontend.items()}
        family = ParamSpec("choice", tuple(self.families)).sample(trial, "family")
        arch = {k: s.sample(trial, f"{family}.{k}") for k, s in self.families[family].items()}
        comp = {k: s.sample(trial, k) for k, s in self.compression.items() if k != "qat"}
        if "qat" in self.compression and int(comp.get("bits", 8)) == 8:  # QAT exists for int8 only
            comp["qat"] = self.compression["qat"].sample(trial, "qat")
        tr = {k: s.sample(trial, f"train.{k}") for k, s in self.training.items()}
        return Candidate(
            frontend=FrontendConfig(**fe), arch=ArchConfig.of(family, **arch), train=TrainConfig(**tr),
            prune_ratio=float(comp.get("prune_ratio", 0.0)),
            prune_criterion=comp.get("prune_criterion", "l1"), bits=int(comp.get("bits", 8)),
            qat=bool(comp.get("qat", False)), distill_weight=float(comp.get("distill_weight", 0.0)),
            distill_temperature=float(comp.get("distill_temperature", 4.0)), teacher=comp.get("teacher"),
        )

    def size(self) -> float:
        """Number of distinct candidates (inf when a range is continuous)."""
        shared = math.prod(s.size() for sec in (self.frontend, self.compression, self.training)
                           for s in sec.values())
        return shared * sum(math.prod(s.size() for s in p.values()) for p in self.families.values())

    def lines(self) -> list[str]:
        out = [f"{self.name}: {self.description}", f"  file: {self.path}"]
        for title, section in (("frontend", self.frontend), ("compression", self.compression),
                               ("training", self.training)):
            out.append(f"  {title}:")
            out += [f"    {k}: {s.describe()}" for k, s in section.items()]
        out.append("  families:")
        for fam, params in self.families.items():
            n = math.prod(s.size() for s in params.values())
            count = "continuous" if math.isinf(n) else f"{n:,.0f} architectures"
            out.append(f"    {fam} ({count}): " + ", ".join(f"{k}={s.describe()}" for k, s in params.items()))
        for ref in self.references:
            out.append(f"  reference {ref.name}: " + ", ".join(f"{k}={v}" for k, v in ref.params.items()))
        out.append(f"  size: {self.size_text()}")
        return out

    def size_text(self) -> str:
        """The size in words: exact when discrete, else the discrete part times the continuous ranges."""
        size = self.size()
        if not math.isinf(size):
            return f"{size:,.0f} candidates"
        sections = {"frontend": self.frontend, "compression": self.compression, "training": self.training,
                    **{f"{fam}": p for fam, p in self.families.items()}}
        continuous = [f"{sec}.{k}" for sec, params in sections.items() for k, s in params.items()
                      if math.isinf(s.size())]
        finite = lambda params: math.prod(s.size() for s in params.values() if not math.isinf(s.size()))  # noqa: E731
        discrete = (math.prod(finite(p) for p in (self.frontend, self.compression, self.training))
                    * sum(finite(p) for p in self.families.values()))
        return f"{discrete:,.0f} discrete combinations x continuous {', '.join(continuous)}"


def _parse_spec(raw: Any, where: str, default: Any) -> ParamSpec:
    """Turn one YAML value into a ParamSpec, checking its type against ``default``'s."""
    if isinstance(raw, list):
        raw = {"choices": raw}
    if not isinstance(raw, dict):
        spec = ParamSpec("fixed", (raw,))
    else:
        kinds = [k for k in ("choices", "int", "float") if k in raw]
        extra = set(raw) - {"choices", "int", "float", "step", "log"}
        if len(kinds) != 1 or extra:
            raise ConfigError(f"{where}: expected a value, a list, or a mapping with exactly one of "
                              f"'choices', 'int', 'float' (plus optional 'step', 'log'); got keys {sorted(raw)}")
        kind = kinds[0]
        if kind == "choices":
            if not isinstance(raw["choices"], list) or not raw["choices"]:
                raise ConfigError(f"{where}: 'choices' must be a non-empty list")
            spec = ParamSpec("choice", tuple(raw["choices"]))
        else:
            bounds = raw[kind]
            if (not isinstance(bounds, list) or len(bounds) != 2
                    or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)):
                raise ConfigError(f"{where}: '{kind}' must be a list [low, high] of numbers, got {bounds!r}")
            low, high = bounds
            if kind == "int" and not all(isinstance(b, int) for b in bounds):
                raise ConfigError(f"{where}: 'int' bounds must be integers, got {bounds!r}")
            if low > high:
                raise ConfigError(f"{where}: low {low} is greater than high {high}")
            log = raw.get("log", False)
            if not isinstance(log, bool):
                raise ConfigError(f"{where}: 'log' must be true or false")
            if log and low <= 0:
                raise ConfigError(f"{where}: a log range needs low > 0, got {low}")
            step = raw.get("step")
            if step is not None and (not isinstance(step, (int, float)) or step <= 0):
                raise ConfigError(f"{where}: 'step' must be a positive number, got {step!r}")
            spec = ParamSpec(kind, (), float(low), float(high), step, log)
    _check_type(spec, where, default)
    return spec


def _check_type(spec: ParamSpec, where: str, default: Any) -> None:
    key = where.rsplit(".", 1)[-1]
    if spec.kind in ("int", "float"):
        values: tuple[Any, ...] = (spec.low, spec.high)
        if isinstance(default, str) or isinstance(default, bool):
            raise ConfigError(f"{where}: expected {type(default).__name__} values, not a numeric range")
        if spec.kind == "float" and isinstance(default, int):
            raise ConfigError(f"{where}: expected int values, got a float range (write 'int: [low, high]')")
        return
    values = spec.values
    for v in values:
        if key in ENUMS and v not in ENUMS[key]:
            raise ConfigError(f"{where}: {v!r} is not one of {list(ENUMS[key])}")
        if default is None or isinstance(default, (tuple, list)):
            continue
        ok = (isinstance(v, bool) if isinstance(default, bool)
              else isinstance(v, (int, float)) and not isinstance(v, bool) if isinstance(default, float)
              else isinstance(v, int) and not isinstance(v, bool) if isinstance(default, int)
              else isinstance(v, type(default)))
        if not ok:
            raise ConfigError(f"{where}: expected {type(default).__name__}, got {v!r} ({type(v).__name__})")


def _section(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    return raw


def _parse_known(raw: dict[str, Any], where: str, defaults: dict[str, Any]) -> dict[str, ParamSpec]:
    unknown = sorted(set(raw) - set(defaults))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(defaults)}")
    return {k: _parse_spec(v, f"{where}.{k}", defaults[k]) for k, v in raw.items()}


def parse_space(doc: Any, path: str) -> SearchSpace:
    """Validate a loaded YAML document; ``path`` is only used in messages."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: a search space must be a mapping with keys {list(SECTIONS)}")
    unknown = sorted(set(doc) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {unknown}; allowed: {list(SECTIONS)}")
    families_raw = _section(doc.get("families"), f"{path}: families")
    if not families_raw:
        raise ConfigError(f"{path}: families: at least one model family is required; "
                          f"available: {sorted(FAMILIES)}")
    families: dict[str, dict[str, ParamSpec]] = {}
    for fam, params in families_raw.items():
        if fam not in FAMILIES:
            raise ConfigError(f"{path}: families.{fam}: unknown model family; available: {sorted(FAMILIES)}")
        families[fam] = _parse_known(_section(params, f"{path}: families.{fam}"), f"{path}: families.{fam}",
                                     family_params(fam))
    space = SearchSpace(
        name=str(doc.get("name") or Path(path).stem),
        description=str(doc.get("description", "")),
        path=str(path),
        frontend=_parse_known(_section(doc.get("frontend"), f"{path}: frontend"), f"{path}: frontend",
                              FRONTEND_DEFAULTS),
        families=families,
        compression=_parse_known(_section(doc.get("compression"), f"{path}: compression"),
                                 f"{path}: compression", COMPRESSION_KEYS),
        training=_parse_known(_section(doc.get("training"), f"{path}: training"), f"{path}: training",
                              TRAIN_DEFAULTS),
    )
    _check_ranges(space, path)
    refs = tuple(_parse_reference(name, raw, space, f"{path}: references.{name}")
                 for name, raw in _section(doc.get("references"), f"{path}: references").items())
    return dataclasses.replace(space, references=refs)


def _parse_reference(name: str, raw: Any, space: SearchSpace, where: str) -> StartingPoint:
    """A reference candidate: ``frontend``/``arch``/``compression``/``training`` mappings and a ``family``."""
    raw = _section(raw, where)
    unknown = sorted(set(raw) - set(REFERENCE_KEYS))
    if unknown or "family" not in raw:
        raise ConfigError(f"{where}: needs 'family' and takes only {list(REFERENCE_KEYS)}; got {sorted(raw)}")
    family = raw["family"]
    prefixes = {"frontend": "frontend.", "arch": f"{family}.", "compression": "", "training": "train."}
    params: dict[str, Any] = {"family": family}
    for section, prefix in prefixes.items():
        params |= {f"{prefix}{k}": v for k, v in _section(raw.get(section), f"{where}.{section}").items()}
    reason = space.misfit(params)
    if reason:
        raise ConfigError(f"{where}: {reason}")
    return StartingPoint(str(name), params)


def _values(spec: ParamSpec) -> tuple[float, ...]:
    return spec.values if spec.kind in ("fixed", "choice") else (spec.low, spec.high)


def _check_ranges(space: SearchSpace, path: str) -> None:
    bits = space.compression.get("bits")
    if bits is not None:
        bad = [b for b in _values(bits) if b not in BITS_OFFERED]
        if bad:
            raise ConfigError(f"{path}: compression.bits: {bad} not offered; choose from {list(BITS_OFFERED)}")
    weight = space.compression.get("distill_weight")
    if weight is not None and not all(0.0 <= w <= 1.0 for w in _values(weight)):
        raise ConfigError(f"{path}: compression.distill_weight: must lie in [0, 1]")
    if weight is not None and any(w > 0 for w in _values(weight)) and not any(
            _values(space.compression.get("teacher", ParamSpec("fixed", (None,))))):
        raise ConfigError(f"{path}: compression.distill_weight: needs compression.teacher "
                          "(a .tflite/.pt file or 'trial:N')")
    temperature = space.compression.get("distill_temperature")
    if temperature is not None and not all(t > 0 for t in _values(temperature)):
        raise ConfigError(f"{path}: compression.distill_temperature: must be positive")
    ratio = space.compression.get("prune_ratio")
    if ratio is not None and not all(0.0 <= r <= 0.9 for r in _values(ratio)):
        raise ConfigError(f"{path}: compression.prune_ratio: must lie in [0, 0.9]")
    positive = ("sample_rate", "clip_seconds", "win_ms", "hop_ms", "n_mels", "n_mfcc")
    for key in positive:
        spec = space.frontend.get(key)
        if spec is not None and not all(v > 0 for v in _values(spec)):
            raise ConfigError(f"{path}: frontend.{key}: must be positive")
    for key in ("epochs", "batch_size", "learning_rate"):
        spec = space.training.get(key)
        if spec is not None and not all(v > 0 for v in _values(spec)):
            raise ConfigError(f"{path}: training.{key}: must be positive")
    _check_training(space, path)
    _check_frontend_cross(space, path)
    for fam, params in space.families.items():
        _check_family(fam, params, path)


def load_space(name_or_path: str | Path) -> SearchSpace:
    """Load a shipped space by name (``nas/search_spaces/NAME.yaml``) or any YAML file by path."""
    path = yamlfile.locate(name_or_path, SPACES_DIR, "search space")
    return parse_space(yamlfile.read(path), str(path))


def list_spaces() -> list[SearchSpace]:
    return [load_space(p.name.removesuffix(".yaml")) for p in yamlfile.yaml_files(SPACES_DIR)]


# --- cross-field and per-family checks (model families of issue 4) ---------------------------------

#: The activations come from the one table the builders use.
ENUMS["activation_fn"] = tuple(ACTIVATIONS)

#: Family parameters that may be 0; every other integer parameter of a family must be >= 1.
ZERO_ALLOWED = {"context"}


def _discrete(spec: ParamSpec) -> tuple[Any, ...]:
    """Every value an int/fixed/choice spec can take (float ranges: their two ends)."""
    if spec.kind == "int":
        step = int(spec.step or 1)
        return tuple(range(int(spec.low), int(spec.high) + 1, step))
    return _values(spec)


def _check_frontend_cross(space: SearchSpace, path: str) -> None:
    """MFCCs are a DCT of the mel bands: every n_mfcc the space can pick must fit every n_mels."""
    kind = space.frontend.get("kind")
    if "mfcc" not in (_values(kind) if kind is not None else (FRONTEND_DEFAULTS["kind"],)):
        return
    mfcc = space.frontend.get("n_mfcc")
    mels = space.frontend.get("n_mels")
    hi = max(_values(mfcc)) if mfcc is not None else FRONTEND_DEFAULTS["n_mfcc"]
    lo = min(_values(mels)) if mels is not None else FRONTEND_DEFAULTS["n_mels"]
    if hi > lo:
        raise ConfigError(f"{path}: frontend.n_mfcc: {hi:g} exceeds the smallest n_mels {lo:g}; "
                          f"MFCCs are taken from the mel bands, so n_mfcc must be <= n_mels")


def _check_family(fam: str, params: dict[str, ParamSpec], path: str) -> None:
    """Sizes >= 1, dropout in [0, 1), growth > 0, and attention heads that divide the width."""
    defaults = family_params(fam)
    where = f"{path}: families.{fam}"
    for key, spec in params.items():
        default = defaults.get(key)
        values = _values(spec)
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            continue
        if key == "dropout":
            if not all(0.0 <= v < 1.0 for v in values):
                raise ConfigError(f"{where}.dropout: must lie in [0, 1), got {spec.describe()}")
        elif isinstance(default, float):
            if not all(v > 0 for v in values):
                raise ConfigError(f"{where}.{key}: must be positive, got {spec.describe()}")
        elif not all(v >= (0 if key in ZERO_ALLOWED else 1) for v in values):
            bound = ">= 0" if key in ZERO_ALLOWED else ">= 1"
            raise ConfigError(f"{where}.{key}: must be {bound}, got {spec.describe()}")
    if "n_heads" in defaults:
        widths = _discrete(params["d_model"]) if "d_model" in params else (defaults["d_model"],)
        heads = _discrete(params["n_heads"]) if "n_heads" in params else (defaults["n_heads"],)
        bad = sorted({(h, d) for h in heads for d in widths if d % h})
        if bad:
            h, d = bad[0]
            raise ConfigError(f"{where}.n_heads: {h} heads do not divide d_model {d}; every n_heads "
                              f"choice must divide every d_model choice (e.g. d_model [32, 64] with n_heads [1, 2, 4])")


#: Training keys that must not be negative (0 switches the augmentation or rule off).
NON_NEGATIVE_TRAINING = ("finetune_epochs", "weight_decay", "time_shift_ms", "gain_db", "time_masks",
                         "time_mask_frames", "freq_masks", "freq_mask_bins", "mixup_alpha", "chance_epochs",
                         "chance_margin")


def _check_training(space: SearchSpace, path: str) -> None:
    """Augmentation and stopping settings: non-negative counts and widths, shares in [0, 1], an SNR range."""
    tr = space.training
    for key in NON_NEGATIVE_TRAINING:
        spec = tr.get(key)
        if spec is not None and not all(v >= 0 for v in _values(spec)):
            raise ConfigError(f"{path}: training.{key}: must be >= 0 (0 switches it off), got {spec.describe()}")
    for key in ("noise_prob", "label_smoothing", "chance_margin"):
        spec = tr.get(key)
        if spec is not None and not all(0.0 <= v <= 1.0 for v in _values(spec)):
            raise ConfigError(f"{path}: training.{key}: must lie in [0, 1], got {spec.describe()}")
    default = TrainConfig()
    lows = _values(tr["noise_snr_db"]) if "noise_snr_db" in tr else (default.noise_snr_db,)
    highs = _values(tr["noise_snr_max_db"]) if "noise_snr_max_db" in tr else (default.noise_snr_max_db,)
    if max(lows) > min(highs):
        raise ConfigError(f"{path}: training.noise_snr_db: {max(lows):g} dB exceeds noise_snr_max_db "
                          f"{min(highs):g} dB; the SNR is drawn from [noise_snr_db, noise_snr_max_db]")
