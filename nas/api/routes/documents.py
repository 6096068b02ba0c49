"""``POST /api/spaces`` and ``POST /api/devices``: check a search space or hardware profile given as a JSON object
(the schema and messages of the YAML files) without creating a study; ``POST /api/studies`` takes the same
objects in ``space`` and ``devices``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from nas import service
from nas.api.deps import require_read
from nas.api.schemas import ERRORS, SpaceOut
from nas.service import DeviceInfo

router = APIRouter(prefix="/api", tags=["meta"], responses=ERRORS, dependencies=[Depends(require_read)])
Document = Annotated[dict[str, Any], Body(description="the document, as the YAML file would hold it")]


@router.post("/spaces", response_model=SpaceOut, operation_id="check_space")
def check_space(doc: Document) -> SpaceOut:
    """Validate a search space; the answer is what ``GET /api/spaces`` shows for a shipped one (size, ranges)."""
    return SpaceOut(**service.check_space(doc))


@router.post("/devices", response_model=DeviceInfo, operation_id="check_device")
def check_device(doc: Document) -> DeviceInfo:
    """Validate a hardware profile (every figure with its source, as in ``nas/hw_profiles/*.yaml``)."""
    return service.check_profile(doc)
