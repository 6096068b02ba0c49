"""``/api/datasets``: registered datasets (``nas datasets add``) and uploads of a zip of class folders.

An upload is ``POST /api/datasets?name=NAME`` with the zip as the body (``curl --data-binary @ds.zip``; the
content type is not checked, the OpenAPI document says ``application/octet-stream``). The request guard
(:mod:`nas.api.guard`) checks the token before the body is read and refuses a body past ``UPLOAD_MAX_BYTES``;
the body is streamed to a temporary file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from nas.api.dataset_schemas import DatasetOut
from nas.api.deps import SessionDep, SettingsDep, WriterDep, require_read
from nas.api.schemas import ERRORS
from nas.service import datasets as ds

router = APIRouter(prefix="/api/datasets", tags=["datasets"], responses=ERRORS)
reads = [Depends(require_read)]
DatasetName = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                                   description="name to register it under")]
PathName = Annotated[str, PathParam(max_length=200, description="dataset name")]
_ZIP_BODY = {"requestBody": {"required": True, "description": "a zip of one folder per class (optionally inside "
                             "one top folder), with optional validation_list.txt / testing_list.txt",
                             "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                 "format": "binary"}}}}}


@router.get("", response_model=list[DatasetOut], dependencies=reads, operation_id="list_datasets")
def list_datasets(session: SessionDep) -> list[DatasetOut]:
    """The registered datasets: what ``dataset`` in ``POST /api/studies`` may name."""
    return [DatasetOut.model_validate(i) for i in ds.list_datasets(session)]


@router.get("/{name}", response_model=DatasetOut, dependencies=reads, operation_id="get_dataset")
def get_dataset(name: PathName, session: SessionDep) -> DatasetOut:
    return DatasetOut.model_validate(ds.get_dataset(session, name))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DatasetOut, openapi_extra=_ZIP_BODY,
             operation_id="upload_dataset",
             responses={413: {"description": "the zip is larger than the limit"}})
async def upload_dataset(request: Request, name: DatasetName, session: SessionDep, settings: SettingsDep,
                         owner: WriterDep) -> DatasetOut:
    """Unpack a zip of class folders under the server's upload folder, check every file as the loaders do
    (unreadable files are skipped and listed; a class without training clips is a 422) and register it."""
    with tempfile.TemporaryDirectory(prefix="nas-upload-") as tmp:
        archive = Path(tmp) / "upload.zip"
        with archive.open("wb") as f:
            async for chunk in request.stream():  # the guard stops it past UPLOAD_MAX_BYTES
                f.write(chunk)
        info = await run_in_threadpool(ds.upload_dataset, session, name, archive, Path(settings.upload_dir),
                                       owner=owner)
    return DatasetOut.model_validate(info)


@router.delete("/{name}", response_model=DatasetOut, operation_id="remove_dataset")
def remove_dataset(name: PathName, session: SessionDep, _owner: WriterDep) -> DatasetOut:
    """Forget a registered dataset (an uploaded one's files go too); refused while a running study uses it."""
    return DatasetOut.model_validate(ds.remove_dataset(session, name))
