"""A study's configuration, validated once (pydantic) and stored with the study."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nas.errors import ConfigError
from nas.study.fidelity import FidelityConfig

if TYPE_CHECKING:
    from nas.hardware.profiles import HardwareProfile
    from nas.space import SearchSpace

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
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")  # \Z: "$" would accept a trailing newline


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
    #: multi-fidelity search (successive-halving rungs, :mod:`nas.study.fidelity`); ``None`` (``fidelity: null``,
    #: ``--no-fidelity``) trains every candidate fully, as before
    fidelity: FidelityConfig | None = FidelityConfig()
    early_stopping: bool = False
    early_stopping_min_epochs: int = Field(2, ge=1)
    early_stopping_min_fraction: float = Field(0.5, ge=0, le=1)
    early_stopping_margin: float = Field(0.25, ge=0, le=1)
    # The documents themselves, stored with the study so it is reproducible after the files change: the search
    # space (inline, or the file's content at creation) and the hardware profiles by name.
    space_doc: dict[str, Any] | None = None
    profile_docs: dict[str, dict[str, Any]] = Field(default_factory=dict)

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

    def search_space(self) -> SearchSpace:
        """The study's search space: its stored document, else the shipped name or file ``space``."""
        from nas.space import load_space, parse_space

        if self.space_doc is not None:
            return parse_space(self.space_doc, f"search space '{self.space}'")
        return load_space(self.space)

    def profile(self, device: str) -> HardwareProfile:
        """The hardware profile ``device``: its stored document, else the shipped profile or file."""
        from nas.hardware.profiles import load_profile, parse_profile

        doc = self.profile_docs.get(device)
        return parse_profile(doc, f"hardware profile '{device}'") if doc is not None else load_profile(device)

    def with_documents(self) -> StudyConfig:
        """This config with the space and every device's profile stored as documents, each validated; an inline
        profile may not take a shipped profile's name.

        Raises:
            ConfigError / NotFoundError: as loading the YAML files would.
        """
        from nas import yamlfile
        from nas.hardware.profiles import profiles_dir
        from nas.space import SPACES_DIR

        space_doc = self.space_doc
        if space_doc is None:
            space_doc = yamlfile.read(yamlfile.locate(self.space, SPACES_DIR, "search space"))
        docs: dict[str, dict[str, Any]] = {}
        shipped = set(yamlfile.names(profiles_dir()))
        for d in self.devices:
            if d in self.profile_docs:
                if d in shipped:
                    raise ConfigError(f"inline hardware profile '{d}' has the name of a shipped profile; "
                                      "choose another name")
                docs[d] = self.profile_docs[d]
            else:
                docs[d] = yamlfile.read(yamlfile.locate(d, profiles_dir(), "hardware profile"))
        unused = sorted(set(self.profile_docs) - set(self.devices))
        if unused:
            raise ConfigError(f"inline hardware profile(s) {unused} are not among the devices {self.devices}")
        out = self.model_copy(update={"space_doc": space_doc, "profile_docs": docs})
        out.search_space()
        for d in out.devices:
            profile = out.profile(d)
            if d in self.profile_docs and profile.name != d:  # an inline profile is named by its own 'name'
                raise ConfigError(f"inline hardware profile '{d}': its 'name' is '{profile.name}'")
        return out

    @property
    def directions(self) -> list[Literal["maximize", "minimize"]]:
        return [OBJECTIVES[o] for o in self.objectives]

    @property
    def cost_objectives(self) -> tuple[str, ...]:
        """The objectives other than accuracy, in order: what a rung and the early-stopping rule weigh
        accuracy against."""
        return tuple(o for o in self.objectives if o != "accuracy")

    @classmethod
    def parse(cls, data: dict) -> StudyConfig:
        """Validate ``data``; errors become one ConfigError naming each bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'config'}: {err['msg']}"
                                 for err in e.errors())
            raise ConfigError(f"invalid study config: {problems}") from e
