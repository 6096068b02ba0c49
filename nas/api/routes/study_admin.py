"""``DELETE /api/studies/{name}`` (a router of its own beside :mod:`nas.api.routes.studies`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from nas.api.deps import SessionDep, SettingsDep, StudyName, WriterDep
from nas.api.schemas import ERRORS
from nas.service.lifecycle import delete_study as delete

router = APIRouter(prefix="/api/studies", tags=["studies"], responses=ERRORS)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_study(name: StudyName, session: SessionDep, settings: SettingsDep, _owner: WriterDep,
                 force: Annotated[bool, Query(description="delete although claimed trials were never recorded "
                                                          "(their worker is gone)")] = False) -> Response:
    """Delete a stopped or finished study: its trials, fronts, files in the database and its Optuna study."""
    delete(session, settings.db_url, name, force=force)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
