"""A study's configuration, validated once (pydantic) and stored with the study."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nas.errors import ConfigError

# objective name -> (direction, how it reads from a trial)
OBJECTIVES: dict[str, Literal["maximize", "minimize"]] = {
    "accuracy": "maximize", "latency_ms": "minimize", "ram_kb": "minimize", "flash_kb": "minimize",
    "macs": "minimize", "params": "minimize",
    # energy (MCU devices): per inference, and average power at ``inference_rate_hz``
    "energy_uj": "minimize", "power_mw": "minimize",
}
#: objectives only MCU profiles with an energy model price
ENERGY_OBJECTIVES = ("energy_uj", "power_mw")
SAMPLERS = ("nsga2", "tpe", "gp", "random")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class StudyConfig(BaseModel):
    """Everything that defines a study. The first device is the one the objectives are taken on;
    the RAM and flash budgets of every device in ``devices`` are always hard constraints there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    dataset: str = "synthetic"
    space: str = "demo"
    devices: list[str] = Field(default_factory=lambda: ["nucleo-l4r5zi"], min_length=1)
    objectives: list[str] = Field(default_factory=lambda: ["accuracy", "latency_ms", "ram_kb"], min_length=2)
    n_trials: int = Field(12, ge=1, le=100_000)
    sampler: Literal["nsga2", "tpe", "gp", "random"] = "nsga2"
    seed: int = 0
    max_latency_ms: float | None = Field(None, gt=0)
    min_accuracy: float | None = Field(None, ge=0, le=1)
    #: energy: the rate average power is taken at, and a hard limit on energy per inference (first device)
    inference_rate_hz: float = Field(1.0, gt=0, le=10_000)
    max_energy_uj: float | None = Field(None, gt=0)
    precheck: bool = True
    #: run the space's reference models first; ``warm_start``: then the front of that earlier study
    references: bool = True
    warm_start: str | None = None
    early_stopping: bool = False
    early_stopping_min_epochs: int = Field(2, ge=1)
    early_stopping_min_fraction: float = Field(0.5, ge=0, le=1)
    early_stopping_margin: float = Field(0.25, ge=0, le=1)

    @field_validator("name", "warm_start")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not NAME_RE.match(v):
            raise ValueError("must be 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit")
        return v

    @field_validator("objectives", mode="before")
    @classmethod
    def _objectives(cls, v: list[str]) -> list[str]:
        if not isinstance(v, list):
            return v
        unknown = [o for o in v if o not in OBJECTIVES]
        if unknown:
            raise ValueError(f"unknown objective(s) {unknown}; choose from {list(OBJECTIVES)}")
        if len(set(v)) != len(v):
            raise ValueError("objectives must not repeat")
        return v

    @property
    def directions(self) -> list[Literal["maximize", "minimize"]]:
        return [OBJECTIVES[o] for o in self.objectives]

    @classmethod
    def parse(cls, data: dict) -> StudyConfig:
        """Validate ``data``; errors become one ConfigError naming each bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'config'}: {err['msg']}"
                                 for err in e.errors())
            raise ConfigError(f"invalid study config: {problems}") from e
