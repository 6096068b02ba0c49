"""Settings of the REST API, validated once.

Read from the environment by :meth:`Settings.from_env` (``NAS_DB``, ``NAS_API_TOKEN``,
``NAS_API_READ_REQUIRES_TOKEN``, ``NAS_API_DEV``) or built directly by tests. A weak or missing
write token is refused unless ``dev`` is set: a service that launches studies on shared machines
must not run with ``changethis`` as its password.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from nas.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_DB = "sqlite:///runs/nas.db"
WEAK_TOKENS = {"", "changethis", "changeme", "secret", "token", "password", "dev", "test", "admin", "nas"}
MIN_TOKEN_LENGTH = 16
MIN_DISTINCT_CHARS = 8  # "aaaaaaaaaaaaaaaa" is long enough and still guessable
_TRUE = {"1", "true", "yes", "on"}


class Settings(BaseModel):
    """What the app needs to run.

    Attributes:
        db_url: the service database (the same URL the workers use).
        api_token: the write token (``NAS_API_TOKEN``); tokens stored in the database
            (``nas token create``) are accepted as well.
        read_requires_token: when True, reads (API and dashboard) need a token too.
        dev: accept a missing or weak token (local use only); a warning is logged.
        poll_seconds: how often dashboard pages poll a running study.
        upload_dir: where ``POST /api/datasets`` unpacks uploaded datasets (``NAS_UPLOAD_DIR``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    db_url: str = DEFAULT_DB
    api_token: SecretStr | None = None
    read_requires_token: bool = False
    dev: bool = False
    poll_seconds: float = Field(5.0, gt=0, le=3600)
    upload_dir: str = "runs/datasets"

    @model_validator(mode="after")
    def _check_token(self) -> Settings:
        token = self.api_token.get_secret_value() if self.api_token is not None else None
        weak = token is not None and (token.strip().lower() in WEAK_TOKENS or len(token) < MIN_TOKEN_LENGTH
                                      or len(set(token)) < MIN_DISTINCT_CHARS)
        if token is None:
            problem = "NAS_API_TOKEN is not set"
        elif weak:
            problem = (f"NAS_API_TOKEN is a default or short value, or too repetitive (use at least "
                       f"{MIN_TOKEN_LENGTH} random characters, {MIN_DISTINCT_CHARS} of them different)")
        else:
            return self
        if self.dev:
            log.warning("%s; running anyway because of the dev flag (do not expose this server)", problem)
            return self
        raise ValueError(f"{problem}: set it to a random secret, e.g. "
                         "python -c 'import secrets; print(secrets.token_urlsafe(24))', or pass --dev "
                         "(NAS_API_DEV=1) for local use, where only tokens from 'nas token create' unlock writes")

    @property
    def token(self) -> str | None:
        """The env token, if set and not blank (a weak one only gets here in dev mode)."""
        if self.api_token is None:
            return None
        t = self.api_token.get_secret_value()
        return t if t.strip() else None

    @classmethod
    def build(cls, **values: object) -> Settings:
        """Validate ``values``; errors become one ConfigError naming each bad field."""
        try:
            return cls.model_validate(values)
        except ValidationError as e:
            problems = "; ".join((f"{'.'.join(map(str, err['loc']))}: " if err["loc"] else "")
                                 + err["msg"].removeprefix("Value error, ") for err in e.errors())
            raise ConfigError(f"invalid API settings: {problems}") from e

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``NAS_*`` environment variables; ``overrides`` (CLI options) win when not None."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "db_url": env.get("NAS_DB", DEFAULT_DB),
            "api_token": env.get("NAS_API_TOKEN"),
            "read_requires_token": env.get("NAS_API_READ_REQUIRES_TOKEN", "").lower() in _TRUE,
            "dev": env.get("NAS_API_DEV", "").lower() in _TRUE,
        }
        if env.get("NAS_UPLOAD_DIR"):
            values["upload_dir"] = env["NAS_UPLOAD_DIR"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.build(**values)
