"""Logging set-up for the command line and worker processes: our progress at INFO, libraries quiet."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import TypeVar

T = TypeVar("T")

#: Module names that are not ours, for warning filters.
THIRD_PARTY = r"(?!nas(\.|$))"


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", force=True)
    logging.getLogger("nas").setLevel(logging.DEBUG if verbose else logging.INFO)
    # litert-torch and ai-edge-quantizer log and warn on every conversion; none of it is actionable here.
    for name in ("absl", "jax", "root", "optuna", "torch_pruning", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Warnings raised inside the libraries are theirs to act on; one attributed to our own code (a deprecated
    # API we call, warned with the usual stacklevel) still shows.
    for category in (FutureWarning, UserWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=THIRD_PARTY)
    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    optuna.logging.set_verbosity(optuna.logging.WARNING)


# --- what native libraries print on fds 1/2 -------------------------------------------------------------

_FD_LOCK = threading.Lock()  # fds 1/2 are process-wide: one capture at a time

#: Lines C++ runtimes print that say nothing a user can act on: absl's note before its log is set up,
#: oneDNN's notice when TensorFlow's kernels load (litert-torch's converter), LiteRT's delegate notice.
NATIVE_NOISE = ("absl::InitializeLog()", "oneDNN custom operations are on",
                "Created TensorFlow Lite XNNPACK delegate")


def native_output(fn: Callable[[], T]) -> tuple[T | None, Exception | None, str]:
    """Run ``fn`` with C-level stdout/stderr redirected; return (result, exception, what was printed).

    TFLite-Micro reports its arena and its failures only this way, so the text is the result there.
    """
    with _FD_LOCK, tempfile.TemporaryFile() as f:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        result, error = None, None
        try:
            result = fn()
        except Exception as e:  # native runtimes raise with little detail; the captured text has the rest
            error = e
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        f.seek(0)
        return result, error, f.read().decode(errors="replace")


def without_native_noise(fn: Callable[[], T]) -> T:
    """Run ``fn``; whatever native code printed reaches stderr, less the :data:`NATIVE_NOISE` lines."""
    result, error, text = native_output(fn)
    rest = [line for line in text.splitlines() if line.strip() and not any(n in line for n in NATIVE_NOISE)]
    if rest:
        print("\n".join(rest), file=sys.stderr, flush=True)
    if error is not None:
        raise error
    return result  # type: ignore[return-value]  # fn returned, so result is its value


def import_quietly(name: str) -> ModuleType:
    """``import name`` without the native noise its first import prints (litert-torch loads TensorFlow)."""
    if name in sys.modules:
        return sys.modules[name]
    return without_native_noise(lambda: importlib.import_module(name))
