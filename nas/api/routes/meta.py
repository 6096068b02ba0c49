"""``/api/devices``, ``/api/spaces``, ``/api/health``: what a client needs before launching a study."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

import nas
from nas import service
from nas.api.deps import SessionDep, require_read
from nas.api.schemas import HealthOut, SpaceOut
from nas.service import DeviceInfo

router = APIRouter(prefix="/api", tags=["meta"])


@router.get("/devices", response_model=list[DeviceInfo], dependencies=[Depends(require_read)])
def devices() -> list[DeviceInfo]:
    """The hardware profiles a study can target."""
    return service.list_devices()


@router.get("/spaces", response_model=list[SpaceOut], dependencies=[Depends(require_read)])
def spaces() -> list[SpaceOut]:
    """The shipped search spaces."""
    return [SpaceOut(**s) for s in service.list_space_infos()]


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
def health(session: SessionDep) -> HealthOut | JSONResponse:
    """Liveness and database reachability (always open: load balancers call it)."""
    version = getattr(nas, "__version__", "0")
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse(HealthOut(status="degraded", database="unreachable", version=version).model_dump(),
                            status_code=503)
    return HealthOut(status="ok", database="ok", version=version)
