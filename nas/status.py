"""Statuses of trials and studies: enums over the strings the tables hold (``StrEnum``: a stored or
compared value is the plain string, so rows written before the enums read back the same)."""

from __future__ import annotations

from enum import StrEnum


class TrialStatus(StrEnum):
    OK = "ok"
    INFEASIBLE = "infeasible"  # breaks a budget or cannot be deployed: a result, not an error
    STOPPED = "stopped"  # stopped at a multi-fidelity rung: trained briefly, never exported
    FAILED = "failed"  # raised; the reason says what


class StudyStatus(StrEnum):
    CREATED = "created"
    RUNNING = "running"  # workers claim its trials
    STOPPED = "stopped"
    FINISHED = "finished"  # its budget of trials is recorded
    FAILED = "failed"  # a worker could not load it (its dataset, its runtime): failure_reason says why
