"""Call a device agent (:mod:`nas.hardware.agent`) over HTTP with the standard library."""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from typing import Any

from nas.hardware.profiles import HardwareProfile

logger = logging.getLogger(__name__)


def profile_on_agent(tflite: bytes, profile: HardwareProfile, *, timeout_s: float = 30.0,
                     budget_s: float = 0.5) -> tuple[dict[str, Any] | None, str]:
    """POST the model to ``profile.agent_url``; returns (result, "") or (None, why it failed)."""
    assert profile.agent_url
    url = profile.agent_url.rstrip("/") + f"/profile?budget_s={budget_s}"
    req = urllib.request.Request(url, data=bytes(tflite), method="POST",
                                 headers={"Content-Type": "application/octet-stream"})
    token = os.environ.get(profile.agent_token_env) if profile.agent_token_env else None
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return json.loads(resp.read().decode()), ""
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace")[:300]
        return None, f"agent {profile.agent_url} answered HTTP {e.code}: {body}"
    except (urllib.error.URLError, OSError, ValueError) as e:
        return None, f"agent {profile.agent_url} unreachable: {e}"
