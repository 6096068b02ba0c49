"""Request and response models of the REST API (pydantic), one per resource shape.

Responses are the service's frozen dataclasses themselves (``nas.service``: one definition per record);
the models here are envelopes around them and what the service returns as plain dicts. Requests are
validated before any route code runs, and anything that would name a file on the server (a search
space or profile path, a dataset folder) is refused: the API takes shipped names only.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nas.service import TRIAL_SORT_KEYS, FrontPoint
from nas.study.config import StudyConfig

SHIPPED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
# A registered name or synthetic[:N]; never KIND:PATH (``folder:7`` would name a folder of the server's cwd).
DATASET_SPEC = re.compile(r"^(synthetic(:[0-9]{1,7})?|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})\Z")
MAX_SEED = 10_000  # a sane bound for request validation (samplers fold seeds into 32 bits themselves)

SortKey = Literal[TRIAL_SORT_KEYS]  # type: ignore[valid-type]


class ErrorOut(BaseModel):
    detail: str = Field(description="what was wrong and how to fix it")


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text} for code, text in (
        (401, "missing or invalid API token"), (404, "no such study, trial or device"),
        (422, "invalid request: the message names each bad field"))
}


class StudyCreate(StudyConfig):
    """Body of ``POST /api/studies``: the fields of a study config (``nas/study/config.py``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, json_schema_extra={
        "examples": [{"name": "kws-m4", "dataset": "synthetic", "space": "demo", "devices": ["nucleo-l4r5zi"],
                      "objectives": ["accuracy", "latency_ms", "ram_kb"], "n_trials": 40, "sampler": "nsga2"}]})

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    objectives: list[str] = Field(default_factory=lambda: ["accuracy", "latency_ms", "ram_kb"], min_length=2,
                                  max_length=6)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    space: str | dict[str, Any] = Field(  # type: ignore[assignment]
        "demo", description="a shipped space's name (GET /api/spaces) or a search space as a JSON object, with the "
        "schema of the YAML files")
    devices: list[str | dict[str, Any]] = Field(  # type: ignore[assignment]
        default_factory=lambda: ["nucleo-l4r5zi"], min_length=1, max_length=16,  # type: ignore[arg-type]
        description="profile names (GET /api/devices) or hardware profiles as JSON objects (the YAML schema)")

    @model_validator(mode="before")
    @classmethod
    def _inline_documents(cls, data: Any) -> Any:
        return inline_documents(data)

    @field_validator("space")
    @classmethod
    def _space(cls, v: str) -> str:
        if not SHIPPED_NAME.match(v):
            raise ValueError("must be the name of a shipped search space (GET /api/spaces), not a path")
        return v

    @field_validator("devices")
    @classmethod
    def _devices(cls, v: list[str]) -> list[str]:
        bad = [d for d in v if not SHIPPED_NAME.match(d)]
        if bad:
            raise ValueError(f"{bad[0][:40]!r} is not a profile name (GET /api/devices lists them)")
        if len(set(v)) != len(v):
            raise ValueError("devices must not repeat")
        return v

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, v: str) -> str:
        if not DATASET_SPEC.match(v):
            raise ValueError("must be a registered dataset (GET /api/datasets) or 'synthetic[:N]', not a path; "
                             "'nas datasets add NAME SPEC' or POST /api/datasets registers one")
        return v

    def to_config(self) -> StudyConfig:
        return StudyConfig.parse(self.model_dump())


def inline_documents(data: Any) -> Any:
    """A space or profile given as a JSON object moves to ``space_doc`` / ``profile_docs``; its own ``name``
    takes its place (the service validates the documents with the YAML files' schema and messages)."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for key in ("space_doc", "profile_docs"):
        if key in data:
            raise ValueError(f"{key}: set by the server; send the document as 'space' or as an entry of 'devices'")
    space = data.get("space")
    if isinstance(space, dict):
        _refuse_server_references(space, [])
        name = space.get("name")
        data["space"], data["space_doc"] = (name if isinstance(name, str) and SHIPPED_NAME.match(name)
                                            else "inline"), space
    devices = data.get("devices")
    if isinstance(devices, list) and any(isinstance(d, dict) for d in devices):
        docs: dict[str, Any] = {}
        names = []
        for i, d in enumerate(devices):
            if isinstance(d, dict):
                name = d.get("name")
                if not isinstance(name, str) or not SHIPPED_NAME.match(name):
                    raise ValueError(f"devices.{i}: an inline hardware profile needs a 'name' of 1-64 letters, "
                                     "digits, '_' or '-'")
                _refuse_server_references({}, [d])
                docs[name] = d
            names.append(d.get("name") if isinstance(d, dict) else d)
        data["devices"], data["profile_docs"] = names, docs
    return data


class ParetoOut(BaseModel):
    study: str
    device: str
    devices: list[str]
    objectives: list[str]
    feasible_only: bool
    points: list[FrontPoint]


class ParamsOut(BaseModel):
    trial_id: list[int]
    accuracy: list[float | None]
    feasible: list[bool]
    params: dict[str, list[Any]]


class SpaceOut(BaseModel):
    name: str
    description: str
    families: list[str]
    size: int | None = Field(description="number of distinct candidates; null when a range is continuous")
    lines: list[str]


class HealthOut(BaseModel):
    status: str
    database: str
    version: str


def _strings(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, dict):
        return [s for x in v.values() for s in _strings(x)]
    if isinstance(v, list):
        return [s for x in v for s in _strings(x)]
    return []


def _refuse_server_references(space: dict[str, Any], profiles: list[dict[str, Any]]) -> None:
    """An inline document may not make the server read a file or call an address: a teacher model is
    ``trial:N`` over REST, and a profile with a device agent is shipped as a file by the operator."""
    compression = space.get("compression")
    teacher = compression.get("teacher") if isinstance(compression, dict) else None
    if any(not s.startswith("trial:") for s in _strings(teacher)):
        raise ValueError("space.compression.teacher: over REST a teacher is 'trial:N' (a trial of this study), "
                         "not a file on the server")
    for p in profiles:
        keys = sorted({"agent_url", "agent_token_env"} & set(p))
        if keys:
            raise ValueError(f"devices: an inline hardware profile may not set {', '.join(keys)} (a worker would "
                             "call that address); ship such a profile as a file in nas/hw_profiles")
