"""One place where errors become HTTP responses: ``{"detail": "<what was wrong>"}``.

Domain errors from :mod:`nas.errors` map to status codes; request validation errors name each bad
field; anything else is a 500 whose traceback goes to the server log only.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from nas.errors import (
    AuthError,
    ConfigError,
    ConflictError,
    DataError,
    ExportError,
    NasError,
    NotDeployableError,
    NotFoundError,
    StorageError,
)

log = logging.getLogger(__name__)

STATUS: dict[type[NasError], int] = {
    NotFoundError: 404, AuthError: 401, ConfigError: 422, DataError: 422, ExportError: 422,
    NotDeployableError: 422, StorageError: 503, ConflictError: 409,
}


def status_of(exc: NasError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def _json(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _respond(request: Request, status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """JSON for the API; a small HTML page for dashboard pages opened in a browser."""
    if request.url.path.startswith("/api") or "text/html" not in request.headers.get("accept", ""):
        return _json(status, detail, headers)
    from nas.api.routes.pages import templates

    return templates.TemplateResponse(request, "error.html", {"status": status, "detail": detail},
                                      status_code=status, headers=headers)


async def _nas_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NasError)
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return _respond(request, status, str(exc), headers)


def _where(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        head, rest = parts[0], parts[1:]
        return f"{head} field '{'.'.join(rest)}'" if rest else head
    return ".".join(parts) or "request"


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{_where(tuple(err.get('loc', ())))}: {msg}")
    return _json(422, "invalid request: " + "; ".join(problems))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return _respond(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))


async def _db_down(request: Request, exc: Exception) -> JSONResponse:
    log.error("database error on %s %s: %s", request.method, request.url.path, exc)
    return _json(503, "the database is unavailable or busy; try again shortly (details in the server log)")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(500, "internal server error (the traceback is in the server log)")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NasError, _nas_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _db_down)
    app.add_exception_handler(Exception, _unexpected)
