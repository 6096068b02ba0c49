"""Response models of ``/api/datasets`` (kept apart from :mod:`nas.api.schemas` so each resource merges alone)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class DatasetOut(BaseModel):
    """A registered dataset. Its server path is not shown: requests name the dataset, never a path."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    kind: str = Field(description="the loader: fsdd, fsdd-speaker, speech-commands, esc50, folder, ...")
    uploaded: bool = Field(description="true when it came as a zip through POST /api/datasets")
    clips: int | None
    classes: list[str]
    class_counts: dict[str, int]
    split_counts: dict[str, int]
    counts_from: str = Field(description="'index' (files listed, before unreadable ones are skipped) or 'load' "
                                         "(every file decoded: uploads, and any dataset a study's worker loaded)")
    owner: str
    created_at: dt.datetime
