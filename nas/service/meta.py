"""What a study can be made of (hardware profiles, search spaces) and the API's stored tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nas.errors import ConfigError, NotFoundError
from nas.hardware.profiles import HardwareProfile, ProfileSummary
from nas.study.records import from_columns
from nas.study.tables import ApiTokenRow


@dataclass(frozen=True, kw_only=True)
class DeviceInfo(ProfileSummary):
    """A hardware profile as listed; ``measured``: its latency is measured (this host, a device agent)."""

    measured: bool


def list_devices() -> list[DeviceInfo]:
    """The shipped hardware profiles."""
    from nas.hardware import list_profiles

    return [device_info(p) for p in list_profiles()]


def device_info(p: HardwareProfile) -> DeviceInfo:
    return from_columns(DeviceInfo, p, measured=bool(p.agent_url) or p.kind == "host")


def list_space_infos() -> list[dict[str, Any]]:
    """The shipped search spaces: name, description, families and their parameters, size."""
    from nas.space import list_spaces

    return [space_dict(sp) for sp in list_spaces()]


def space_dict(sp: Any) -> dict[str, Any]:
    """One search space as the API shows it."""
    size = sp.size()
    return {"name": sp.name, "description": sp.description, "families": list(sp.families),
            "size": None if math.isinf(size) else int(size), "lines": sp.lines()}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(session: Session, name: str) -> str:
    """Create a named write token and return it (only its hash is stored: it is shown once)."""
    if session.scalar(select(ApiTokenRow.id).where(ApiTokenRow.name == name)) is not None:
        raise ConfigError(f"a token named '{name}' already exists: revoke it first (nas token revoke {name})")
    token = "nas_" + secrets.token_urlsafe(32)
    session.add(ApiTokenRow(name=name, token_sha256=_token_hash(token)))
    session.commit()
    return token


def revoke_api_token(session: Session, name: str) -> None:
    row = session.scalars(select(ApiTokenRow).where(ApiTokenRow.name == name)).first()
    if row is None:
        raise NotFoundError(f"no API token named '{name}'")
    session.delete(row)
    session.commit()


def list_api_tokens(session: Session) -> list[tuple[str, dt.datetime]]:
    return [(name, created_at) for name, created_at in session.execute(
        select(ApiTokenRow.name, ApiTokenRow.created_at).order_by(ApiTokenRow.name)).all()]


def api_token_owner(session: Session, token: str) -> str | None:
    """The name of the stored token equal to ``token``, or None."""
    return session.scalar(select(ApiTokenRow.name).where(ApiTokenRow.token_sha256 == _token_hash(token)))


def check_space(doc: Any) -> dict[str, Any]:
    """Validate a search space given as a document (a JSON object) with the YAML files' schema and messages."""
    from nas.space import parse_space

    return space_dict(parse_space(doc, "search space (request body)"))


def check_profile(doc: Any) -> DeviceInfo:
    """Validate a hardware profile given as a document with the YAML files' schema and messages."""
    from nas.hardware.profiles import parse_profile

    return device_info(parse_profile(doc, "hardware profile (request body)"))
