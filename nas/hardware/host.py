"""Measure a ``.tflite`` on this machine with LiteRT: warm-up, then the median of repeated runs.

Why measured: the ``host`` profile is the one device we can time for real in tests and on a worker.
The time budget per model is small (default 0.2 s) so that pricing stays fast; results are cached by
the content hash of the model. The same timing loop runs inside the device agent (:mod:`.agent`).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from nas.hardware.graph import digest_of
from nas.logs import without_native_noise

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostTiming:
    ok: bool
    median_ms: float = 0.0
    p90_ms: float = 0.0
    runs: int = 0
    peak_kb: float = 0.0
    runtime: str = ""
    message: str = ""


def measure_host(tflite: bytes, *, budget_s: float = 0.2, threads: int = 1) -> HostTiming:
    """Time the model with LiteRT (cached by content hash); failures come back as ``ok=False``."""
    data = bytes(tflite)
    return _measure_cached(digest_of(data), data, budget_s, threads)


@functools.lru_cache(maxsize=64)
def _measure_cached(digest: str, data: bytes, budget_s: float, threads: int) -> HostTiming:
    from nas.hardware import agent  # the agent's timing loop is the single implementation

    try:
        r = without_native_noise(lambda: agent.time_model(data, budget_s=budget_s, threads=threads))
    except Exception as e:  # LiteRT raises ValueError/RuntimeError for models it cannot prepare
        logger.info("LiteRT could not run model %s: %s", digest[:12], e)
        return HostTiming(False, message=f"LiteRT: {type(e).__name__}: {e}")
    return HostTiming(True, r["latency_ms_median"], r["latency_ms_p90"], r["runs"], r["peak_mem_kb"], r["runtime"])
