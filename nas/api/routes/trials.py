"""``/api/trials/{id}``: one trial's detail, its ``.tflite`` and its cost on every profile."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from nas import service
from nas.api.deps import SessionDep, TrialId, require_read
from nas.api.schemas import ERRORS
from nas.service import DeviceFigures, TrialDetail

router = APIRouter(prefix="/api/trials", tags=["trials"], responses=ERRORS, dependencies=[Depends(require_read)])


@router.get("/{trial_id}", response_model=TrialDetail)
def get_trial(trial_id: TrialId, session: SessionDep) -> TrialDetail:
    """Candidate, training curve, confusion matrix and per-device figures (with per-layer costs)."""
    return service.trial_detail(session, trial_id)


@router.get("/{trial_id}/model.tflite", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "the .tflite file"}})
def get_model(trial_id: TrialId, session: SessionDep) -> Response:
    filename, data = service.trial_model(session, trial_id)
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/{trial_id}/firmware.zip", response_class=Response,
            responses={200: {"content": {"application/zip": {}},
                             "description": "model_data.h/.cc, manifest.json and model.tflite (docs/deploy.md)"}})
def get_firmware(trial_id: TrialId, session: SessionDep, device: str | None = None) -> Response:
    """C sources for TFLite-Micro and the manifest (frontend, normalization, quantization, figures) for
    ``device`` (default: the study's first)."""
    from nas.service.firmware import firmware_zip

    filename, data = firmware_zip(session, trial_id, device=device)
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/{trial_id}/profiles", response_model=list[DeviceFigures])
def price_everywhere(trial_id: TrialId, request: Request, session: SessionDep) -> list[DeviceFigures]:
    """The trial's ``.tflite`` priced on every shipped profile (computed once per server process)."""
    cache = _cache(request)
    if trial_id not in cache:
        cache[trial_id] = service.price_trial_everywhere(session, trial_id)
        while len(cache) > 256:
            cache.pop(next(iter(cache)))
    return cache[trial_id]


def _cache(request: Request) -> dict[int, list[DeviceFigures]]:
    state = request.app.state
    if not hasattr(state, "profile_cache"):
        state.profile_cache = {}
    return state.profile_cache
