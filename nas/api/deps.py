"""Dependencies shared by the routes: a database session, token checks, "load study or 404".

A token comes as ``Authorization: Bearer TOKEN`` (API clients) or as the ``nas_token`` cookie
(dashboard pages, set by ``/login``). It matches ``NAS_API_TOKEN`` or a token stored with
``nas token create``; anything else is a 401 with a message, never a traceback.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from nas import service
from nas.api.settings import Settings
from nas.errors import AuthError, NotFoundError
from nas.study.config import NAME_RE

TOKEN_COOKIE = "nas_token"
MAX_ID = 2**31 - 1


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _presented_token(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth is not None:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("malformed Authorization header: send 'Authorization: Bearer <token>'")
        return token.strip()
    cookie = request.cookies.get(TOKEN_COOKIE)
    return unquote(cookie) if cookie else None


def token_owner(request: Request, settings: Settings, session: Session) -> str:
    """Who the presented token belongs to (``env`` for NAS_API_TOKEN, else the stored token's name)."""
    token = _presented_token(request)
    if token is None:
        raise AuthError("this request needs an API token: send 'Authorization: Bearer <token>' "
                        "(NAS_API_TOKEN of the server, or one made with 'nas token create NAME')")
    owner = owner_of(token, settings, session)
    if owner is None:
        raise AuthError("invalid API token: it matches neither NAS_API_TOKEN nor a token from 'nas token create'")
    return owner


def owner_of(token: str, settings: Settings, session: Session) -> str | None:
    """``env`` for NAS_API_TOKEN, a stored token's name, or None for a token that matches neither."""
    if settings.token is not None and hmac.compare_digest(token.encode(), settings.token.encode()):
        return "env"
    return service.api_token_owner(session, token)


# Declares the bearer token in the OpenAPI document (the /docs page's Authorize button); the checks are ours.
_WRITE_SCHEME = HTTPBearer(auto_error=False, scheme_name="bearer",
                           description="NAS_API_TOKEN of the server, or a token from 'nas token create NAME'")
_READ_SCHEME = HTTPBearer(auto_error=False, scheme_name="bearer",
                          description="needed for reads only when the server sets read_requires_token")
_Declared = HTTPAuthorizationCredentials | None


def require_write(request: Request, settings: SettingsDep, session: SessionDep,
                  _declared: Annotated[_Declared, Depends(_WRITE_SCHEME)] = None) -> str:
    """Writes always need a token; returns its owner."""
    return token_owner(request, settings, session)


def require_read(request: Request, settings: SettingsDep, session: SessionDep,
                 _declared: Annotated[_Declared, Depends(_READ_SCHEME)] = None) -> None:
    """Reads need a token only when ``read_requires_token`` is set."""
    if settings.read_requires_token:
        token_owner(request, settings, session)


WriterDep = Annotated[str, Depends(require_write)]


def study_name(name: Annotated[str, Path(description="study name", max_length=200)]) -> str:
    """A study name from the path; one that no study could have is a 404 before any query."""
    if not NAME_RE.match(name):
        raise NotFoundError(f"no study named '{name[:80]}' (names are 1-64 letters, digits, '_', '-', '.')")
    return name


StudyName = Annotated[str, Depends(study_name)]
TrialId = Annotated[int, Path(ge=1, le=MAX_ID, description="trial id (the 'id' field of a trial)")]
