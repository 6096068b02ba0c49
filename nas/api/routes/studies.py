"""``/api/studies``: launch, list, inspect, stop; the Pareto front, trial table, history, parameters."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status

from nas import service
from nas.api.deps import SessionDep, SettingsDep, StudyName, WriterDep, require_read
from nas.api.schemas import ERRORS, ErrorOut, ParamsOut, ParetoOut, SortKey, StudyCreate
from nas.errors import ConfigError, NotFoundError
from nas.service import HistoryPoint, StudyInfo, TrialPage
from nas.status import TrialStatus

router = APIRouter(prefix="/api/studies", tags=["studies"], responses=ERRORS)
reads = [Depends(require_read)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StudyInfo,
             responses={409: {"model": ErrorOut, "description": "a study of that name exists"}})
def create_study(body: StudyCreate, session: SessionDep, settings: SettingsDep, owner: WriterDep) -> StudyInfo:
    """Register a study; workers (``nas serve --workers N`` or ``nas worker``) pick it up."""
    try:
        info = service.create_study(session, settings.db_url, body.to_config(), owner=owner)
    except NotFoundError as e:  # an unknown space or device named in the body: the body is invalid
        raise ConfigError(str(e)) from e
    return info


@router.get("", response_model=list[StudyInfo], dependencies=reads)
def list_studies(session: SessionDep) -> list[StudyInfo]:
    return service.list_studies(session)


@router.get("/{name}", response_model=StudyInfo, dependencies=reads)
def get_study(name: StudyName, session: SessionDep) -> StudyInfo:
    """Config, status, progress and best figures of a study."""
    return service.study_info(session, name)


@router.post("/{name}/stop", response_model=StudyInfo)
def stop_study(name: StudyName, session: SessionDep, _owner: WriterDep) -> StudyInfo:
    """Stop handing out trials; trials under way finish and are recorded."""
    return service.stop_study(session, name)


@router.post("/{name}/resume", response_model=StudyInfo)
def resume_study(name: StudyName, session: SessionDep, _owner: WriterDep) -> StudyInfo:
    return service.resume_study(session, name)


@router.get("/{name}/pareto", response_model=ParetoOut, dependencies=reads)
def pareto(name: StudyName, session: SessionDep,
           device: Annotated[str | None, Query(max_length=64, description="profile (default: the study's first)")]
           = None,
           feasible_only: Annotated[bool, Query(description="false adds the infeasible trials")] = True
           ) -> ParetoOut:
    """The stored Pareto front on one device, best accuracy first."""
    points = service.pareto(session, name, device=device, feasible_only=feasible_only)
    cfg = service.study_config(session, name)
    return ParetoOut(study=name, device=device or cfg["devices"][0], devices=cfg["devices"],
                     objectives=cfg["objectives"], feasible_only=feasible_only, points=points)


@router.get("/{name}/trials", response_model=TrialPage, dependencies=reads)
def trials(name: StudyName, session: SessionDep,
           page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
           per_page: Annotated[int, Query(ge=1, le=1000)] = 50,
           sort: SortKey = "number",
           order: Literal["asc", "desc"] = "asc",
           trial_status: Annotated[TrialStatus | None, Query(alias="status")] = None,
           after: Annotated[int | None, Query(ge=0, le=2**31 - 1, description="only trials with a larger id (ids "
                                              "grow as trials finish): poll with the largest id seen")] = None,
           ) -> TrialPage:
    """One page of the finished trials, sorted by a figure (missing figures last)."""
    return service.list_trials(session, name, page=page, per_page=per_page, sort=sort, order=order,
                               status=trial_status, after=after)


@router.get("/{name}/history", response_model=list[HistoryPoint], dependencies=reads)
def history(name: StudyName, session: SessionDep) -> list[HistoryPoint]:
    """Normalised hypervolume (0..1) of the primary device's front after each finished trial."""
    return service.hypervolume_history(session, name)


@router.get("/{name}/params", response_model=ParamsOut, dependencies=reads)
def params(name: StudyName, session: SessionDep) -> ParamsOut:
    """The sampled parameters of every trial, as columns (parallel coordinates)."""
    return ParamsOut.model_validate(service.sampled_params(session, name))
