"""Device agent: a tiny HTTP server that times ``.tflite`` models on the machine it runs on.

Copy this single file to a Raspberry Pi (or any machine) with numpy and ``ai-edge-litert`` or
``tflite-runtime`` installed, and run ``python agent.py --port 8765 [--host 0.0.0.0] [--token T]``.
It imports nothing else from ``nas`` and no torch, on purpose.

API:
    GET  /health                  -> {"ok": true, "runtime": "...", "machine": "..."}
    POST /profile[?budget_s=&threads=]  body = raw .tflite bytes
         -> {"latency_ms_median", "latency_ms_p90", "runs", "peak_rss_kb", "peak_mem_kb", "runtime"}
An optional bearer token is checked on every request; bodies above ``max_bytes`` are refused (413).
Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import platform
import resource
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 16 << 20


def _interpreter_class() -> tuple[Any, str]:
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai-edge-litert"
    except ImportError:
        from tflite_runtime.interpreter import Interpreter  # type: ignore[import-not-found]

        return Interpreter, "tflite-runtime"


def _rss_kb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def time_model(data: bytes, *, budget_s: float = 0.2, threads: int = 1, warmup: int = 3,
               min_runs: int = 5, max_runs: int = 200) -> dict[str, Any]:
    """Load ``data`` in LiteRT, run ``warmup`` times, then time runs until ``budget_s`` is spent.

    Returns median and p90 latency (ms), the number of timed runs, the process's peak RSS and the
    resident-memory growth caused by loading and running the model (KB).
    """
    import numpy as np

    interp_cls, runtime = _interpreter_class()
    rss0 = _rss_kb()
    interp = interp_cls(model_content=bytes(data), num_threads=threads)
    interp.allocate_tensors()
    rng = np.random.default_rng(0)
    for d in interp.get_input_details():
        dt = np.dtype(d["dtype"])
        shape = [max(1, int(x)) for x in d["shape"]]
        if np.issubdtype(dt, np.integer):
            info = np.iinfo(dt)
            x = rng.integers(max(info.min, -128), min(info.max, 127) + 1, size=shape).astype(dt)
        else:
            x = rng.standard_normal(shape).astype(dt)
        interp.set_tensor(d["index"], x)
    for _ in range(warmup):
        interp.invoke()
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() < deadline):
        t = time.perf_counter()
        interp.invoke()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux
    return {
        "latency_ms_median": times[len(times) // 2],
        "latency_ms_p90": times[min(len(times) - 1, int(0.9 * len(times)))],
        "runs": len(times),
        "peak_rss_kb": float(peak),
        "peak_mem_kb": max(0.0, _rss_kb() - rss0),
        "runtime": runtime,
        "threads": threads,
        "machine": platform.machine(),
    }


def make_handler(token: str | None, max_bytes: int) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``token`` and ``max_bytes``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "nas-agent/1"

        def log_message(self, fmt: str, *args: Any) -> None:  # route to logging, not stderr
            logger.info("%s " + fmt, self.address_string(), *args)

        def _send(self, code: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _authorized(self) -> bool:
            if not token:
                return True
            got = self.headers.get("Authorization", "")
            return hmac.compare_digest(got.encode(), f"Bearer {token}".encode())

        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            if not self._authorized():
                return self._send(401, {"error": "missing or wrong bearer token"})
            if urlparse(self.path).path != "/health":
                return self._send(404, {"error": f"no route {self.path}"})
            try:
                _, runtime = _interpreter_class()
            except ImportError:
                runtime = "none"
            self._send(200, {"ok": True, "runtime": runtime, "machine": platform.machine()})

        def do_POST(self) -> None:  # noqa: N802
            if not self._authorized():
                return self._send(401, {"error": "missing or wrong bearer token"})
            url = urlparse(self.path)
            if url.path != "/profile":
                return self._send(404, {"error": f"no route {self.path}"})
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0:
                return self._send(400, {"error": "empty body: POST the raw .tflite bytes"})
            if length > max_bytes:
                # Discard (never store) a moderately oversized body so the client can read the answer.
                if length <= 4 * max_bytes:
                    left = length
                    while left > 0:
                        left -= len(self.rfile.read(min(left, 1 << 16))) or left
                self.close_connection = True
                return self._send(413, {"error": f"body of {length} bytes exceeds the limit of {max_bytes}"})
            data = self.rfile.read(length)
            q = parse_qs(url.query)
            try:
                budget = min(10.0, float(q.get("budget_s", ["0.5"])[0]))
                threads = max(1, int(q.get("threads", ["1"])[0]))
                result = time_model(data, budget_s=budget, threads=threads)
            except Exception as e:  # the model is the client's problem: report it, keep serving
                return self._send(422, {"error": f"{type(e).__name__}: {e}"})
            self._send(200, result)

    return Handler


def make_server(host: str = "127.0.0.1", port: int = 8765, *, token: str | None = None,
                max_bytes: int = DEFAULT_MAX_BYTES) -> HTTPServer:
    """Build (not start) the agent's HTTP server; ``port=0`` picks a free port."""
    return HTTPServer((host, port), make_handler(token, max_bytes))


def serve(host: str = "127.0.0.1", port: int = 8765, *, token: str | None = None,
          max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    server = make_server(host, port, token=token, max_bytes=max_bytes)
    logger.info("nas agent listening on http://%s:%d", host, server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Time .tflite models on this machine over HTTP.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--token", default=None)
    p.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    serve(a.host, a.port, token=a.token, max_bytes=a.max_bytes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
