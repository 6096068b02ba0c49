"""The request guard: a pure ASGI middleware that runs before any route reads a body.

For a write (any method but GET/HEAD/OPTIONS) it refuses, in this order and without reading the body:
a declared ``Content-Length`` above the cap (413), a cross-site ``Origin`` on a request authenticated by
the dashboard's cookie (403), a missing or wrong token on an ``/api`` write (401). The body is then
counted as it streams in, and a body past the cap (chunked, or longer than declared) is a 413 too.
Every response gets the security headers (CSP, frame-ancestors, nosniff, referrer policy).

Caps: :data:`JSON_MAX_BYTES` (1 MiB) for every write, :data:`nas.service.datasets.UPLOAD_MAX_BYTES`
(256 MiB, read when a request comes) for the dataset upload, which streams its body to a file.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException
from starlette.requests import Request

from nas.api.deps import TOKEN_COOKIE, token_owner
from nas.api.settings import Settings
from nas.errors import AuthError
from nas.service import datasets as ds

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_MAX_BYTES = 1 << 20
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UPLOAD = ("POST", "/api/datasets")
#: writes anyone may send: they only validate a document and store nothing
OPEN_WRITES = frozenset({("POST", "/api/spaces"), ("POST", "/api/devices")})
# Every script is served by the app itself. Plotly adds inline styles and data: images (its mode bar), and its
# WebGL traces (the parallel-coordinates plot) compile shaders with new Function: hence 'unsafe-eval'.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = ((b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY"))


def body_cap(method: str, path: str) -> int:
    return ds.UPLOAD_MAX_BYTES if (method, path.rstrip("/")) == UPLOAD else JSON_MAX_BYTES


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB"


def too_large(cap: int) -> str:
    return (f"request body too large: at most {_mib(cap)} here (JSON bodies {_mib(JSON_MAX_BYTES)}, "
            f"dataset uploads {_mib(ds.UPLOAD_MAX_BYTES)})")


def cross_site(request: Request) -> str | None:
    """Why a cookie-authenticated write is refused as cross-site, or None.

    A browser sends ``Origin`` with every POST; it must name this server (the ``Host`` it was sent to: a
    reverse proxy passes the client's ``Host`` on). Requests with an ``Authorization`` header or without the
    cookie are not a browser's ambient credentials and are left to the token check."""
    if "authorization" in request.headers or TOKEN_COOKIE not in request.cookies:
        return None
    origin = request.headers.get("origin")
    if origin is not None:
        netloc = urlsplit(origin).netloc.lower()
        if not netloc or netloc != request.headers.get("host", "").lower():
            return f"cross-site request refused: Origin '{origin[:100]}' is not this server"
    elif request.headers.get("sec-fetch-site", "") == "cross-site":
        return "cross-site request refused (Sec-Fetch-Site: cross-site)"
    return None


class RequestGuard:
    """See the module docstring; ``sessions`` looks up tokens made with ``nas token create``."""

    def __init__(self, app: ASGIApp, *, settings: Settings, sessions: sessionmaker[Session]):
        self.app, self.settings, self.sessions = app, settings, sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_security_headers(send)
        method, path = scope["method"], scope["path"]
        if method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        cap = body_cap(method, path)
        refusal = self._refusal(request, cap)
        if refusal is None and path.startswith("/api") and (method, path.rstrip("/")) not in OPEN_WRITES:
            refusal = await run_in_threadpool(self._token_refusal, request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, _capped(receive, cap), send)

    @staticmethod
    def _refusal(request: Request, cap: int) -> JSONResponse | None:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            return _json(413, too_large(cap), {"Connection": "close"})
        reason = cross_site(request)
        return _json(403, reason) if reason else None

    def _token_refusal(self, request: Request) -> JSONResponse | None:
        try:
            with self.sessions() as session:
                token_owner(request, self.settings, session)
        except AuthError as e:
            return _json(401, str(e), {"WWW-Authenticate": "Bearer"})
        except SQLAlchemyError as e:
            log.error("database error checking a token on %s %s: %s", request.method, request.url.path, e)
            return _json(503, "the database is unavailable or busy; try again shortly (details in the server log)")
        return None


def _json(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _capped(receive: Receive, cap: int) -> Receive:
    """``receive`` that raises a 413 once more than ``cap`` body bytes came in (the route has not answered yet:
    FastAPI reads the whole body first, the upload route streams it and stops at the same cap)."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                raise HTTPException(413, too_large(cap))
        return message

    return counted


def _with_security_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {k.lower() for k, _ in message.get("headers", [])}
            message["headers"] = [*message.get("headers", []),
                                  *((k, v) for k, v in SECURITY_HEADERS if k not in present)]
        await send(message)

    return sending
