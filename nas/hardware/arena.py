"""Measure the TFLite-Micro arena with TFLM's own allocator (PyPI ``tflite-micro`` runtime).

Why: the arena is the largest RAM figure on a microcontroller, and TFLM's ``RecordingMicroAllocator``
computes it exactly. Its report and its failure messages (unsupported op, CONCATENATION with too many
inputs, refused tensor types) are only printed by the C library, so file descriptors 1 and 2 are
redirected into a temporary file around the calls. A failure is a result (``ok=False`` + message),
not an exception: it is the reason a model is not deployable on TFLM.

The host build uses reference kernels and 64-bit structs; :mod:`nas.hardware.planner` converts the
figures to a Cortex-M build.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass

from nas.hardware.graph import Graph, digest_of
from nas.hardware.kernels import tflm_unsupported
from nas.logs import native_output

logger = logging.getLogger(__name__)

#: Arena given to the host runtime; large enough for any model we would put on a microcontroller.
DEFAULT_ARENA_BYTES = 64 << 20
_LINE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


@dataclass(frozen=True)
class ArenaMeasurement:
    """What TFLM's allocator reported for one model on the host build (x86-64, reference kernels).

    Attributes:
        ok: False when TFLM refused the model; ``message`` holds TFLM's own words.
        total_bytes / head_bytes / tail_bytes: ``Arena allocation total/head/tail``.
        message: TFLM's log (failure reason or allocation report).
    """

    ok: bool
    total_bytes: int = 0
    head_bytes: int = 0
    tail_bytes: int = 0
    message: str = ""


def measure_arena(tflite: bytes, *, arena_size: int = DEFAULT_ARENA_BYTES) -> ArenaMeasurement:
    """Load the model into TFLM's host runtime and read back the arena split (cached by content)."""
    data = bytes(tflite)
    return _measure_cached(digest_of(data), data, arena_size)


@functools.lru_cache(maxsize=64)
def _measure_cached(digest: str, data: bytes, arena_size: int) -> ArenaMeasurement:
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as e:  # pragma: no cover - the dependency is pinned
        return ArenaMeasurement(False, message=f"tflite-micro runtime not installed: {e}")

    interp, err, log = native_output(lambda: runtime.Interpreter.from_bytes(data, arena_size=arena_size))
    if err is not None or interp is None:
        reason = _failure_reason(log, err)
        logger.info("TFLM refused model %s: %s", digest[:12], reason)
        return ArenaMeasurement(False, message=reason)
    _, err2, report = native_output(interp.print_allocations)
    found = {k: int(v) for k, v in _LINE.findall(report)}
    if err2 is not None or "total" not in found:
        return ArenaMeasurement(False, message=_failure_reason(report, err2))
    return ArenaMeasurement(True, found["total"], found.get("head", 0), found.get("tail", 0), report.strip())


def _failure_reason(log: str, err: BaseException | None) -> str:
    lines = [ln.strip() for ln in log.splitlines() if ln.strip() and "RecordingMicroAllocator" not in ln]
    text = "; ".join(dict.fromkeys(lines))  # dedupe, keep order
    if err is not None:
        text = f"{text}; {type(err).__name__}: {err}" if text else f"{type(err).__name__}: {err}"
    return text[:2000] or "TFLite-Micro failed without a message"


def tflm_refusal(data: bytes, graph: Graph) -> str | None:
    """Why TFLite-Micro cannot run the model (its allocator's words and our static checks), or None."""
    arena = measure_arena(data)
    reason = None if arena.ok else f"TFLite-Micro refused the model: {arena.message}"
    static = tflm_unsupported(graph)
    if static:
        return f"{static} ({reason})" if reason else static
    return reason
