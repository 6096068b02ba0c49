"""Issue 18, cases 4 and 8: the request guard (token before body, capped bodies) on a real uvicorn server,
and the web hardening: no open redirect, no cross-site cookie writes, an HttpOnly cookie, security headers,
a /docs page without a CDN, weak tokens refused, names without a trailing newline, no server paths."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import soundfile as sf
import uvicorn
from fastapi.testclient import TestClient

from nas.api import Settings, create_app
from nas.api.guard import JSON_MAX_BYTES, OPEN_WRITES, SAFE_METHODS
from nas.errors import ConfigError
from nas.study.config import StudyConfig

TOKEN = "hardening-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def client(tmp_path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(db_url=f"sqlite:///{tmp_path / 'h.db'}", api_token=TOKEN))) as c:
        yield c


@pytest.fixture()
def server(tmp_path) -> Iterator[tuple[str, int]]:
    """The app under a real uvicorn server in a thread (the guard must answer before the body arrives)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 's.db'}", api_token=TOKEN))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield "127.0.0.1", port
    srv.should_exit = True
    thread.join(10)


def _raw_post(host: str, port: int, length: int, send: int, headers: str = "") -> socket.socket:
    """A POST /api/studies declaring ``length`` body bytes, of which only ``send`` are sent."""
    sock = socket.create_connection((host, port), timeout=5)
    sock.sendall(f"POST /api/studies HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {length}\r\n{headers}\r\n".encode())
    if send:
        sock.sendall(b" " * send)
    return sock


def _status(sock: socket.socket) -> str:
    try:
        return sock.recv(4096).decode(errors="replace").split("\r\n", 1)[0]
    except TimeoutError:
        return "no answer within 5 s (the server waits for the body)"


def test_a_60_mb_post_without_token_is_refused_before_its_body_and_health_stays_fast(server):
    host, port = server
    big = _raw_post(host, port, 60 * 1024 * 1024, 1 << 20)  # 1 MiB of the declared 60 sent, the rest never
    try:
        assert _status(big).startswith("HTTP/1.1 413")
        t0 = time.perf_counter()
        assert httpx.get(f"http://{host}:{port}/api/health", timeout=5).status_code == 200
        assert time.perf_counter() - t0 < 1.0
    finally:
        big.close()
    small = _raw_post(host, port, 1000, 0)  # under the cap, no token, no body sent yet
    try:
        assert _status(small).startswith("HTTP/1.1 401")  # the token is checked before the body is read
    finally:
        small.close()


def test_a_streamed_body_past_the_cap_is_a_413(client):
    padding = b"a" * (JSON_MAX_BYTES + 1)
    body = iter([b'{"name": "big", "dataset": "', padding, b'"}'])  # chunked: no Content-Length to refuse on
    r = client.post("/api/studies", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413 and "at most 1 MiB" in r.json()["detail"]
    assert client.post("/api/studies", json={"name": "small"}, headers=AUTH).status_code == 201


@pytest.mark.parametrize("target", ["/\\evil.example/x", "//evil.example", "https://evil.example", "/ok\n//x"])
def test_login_never_redirects_off_site(client, target):
    page = client.get("/login", params={"next": target})
    assert page.status_code == 200 and 'name="next" value="/"' in page.text
    r = client.post("/login", data={"token": TOKEN, "next": target}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_login_sets_an_httponly_samesite_cookie_and_refuses_a_wrong_token(client):
    r = client.post("/login", data={"token": TOKEN, "next": "/studies/x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/studies/x"
    cookie = r.headers["set-cookie"].lower()
    assert "nas_token=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert client.post("/login", data={"token": "wrong-token-0123456789"}).status_code == 401


def test_cookie_writes_from_another_site_are_refused(client):
    client.cookies.set("nas_token", TOKEN)
    evil = client.post("/api/studies", json={"name": "csrf"}, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and "cross-site" in evil.json()["detail"]
    fetched = client.post("/api/studies", json={"name": "csrf"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert fetched.status_code == 403
    same = client.post("/api/studies", json={"name": "csrf"}, headers={"Origin": "http://testserver"})
    assert same.status_code == 201, same.text


@pytest.mark.parametrize("path", ["/", "/login", "/docs", "/api/health"])
def test_every_response_has_the_security_headers(client, path):
    h = client.get(path).headers
    assert "frame-ancestors 'none'" in h["content-security-policy"] and "script-src 'self'" in h[
        "content-security-policy"]
    assert (h["x-content-type-options"], h["referrer-policy"], h["x-frame-options"]) == ("nosniff", "same-origin",
                                                                                           "DENY")


def test_docs_page_is_served_without_a_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "create_study" in page.text and "/api/studies" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assert client.get("/redoc").status_code == 404


@pytest.mark.parametrize("token", ["a" * 16, "abcdabcdabcdabcd", "x" * 40])
def test_repetitive_tokens_are_refused(token):
    with pytest.raises(ConfigError, match="too repetitive"):
        Settings.build(api_token=token)


@pytest.mark.parametrize("field", ["name", "warm_start"])
def test_names_with_a_trailing_newline_are_refused(field):
    with pytest.raises(ConfigError, match=field):
        StudyConfig.parse({"name": "ok", field: "ok\n"})


def test_a_request_never_names_a_folder_of_the_servers_working_directory(client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for label in ("a", "b"):  # a valid class-per-folder dataset at ./7
        (tmp_path / "7" / label).mkdir(parents=True)
        for i in range(10):
            sf.write(tmp_path / "7" / label / f"{i}.wav", np.zeros(1600, dtype=np.float32), 16000)
    r = client.post("/api/studies", json={"name": "cwd", "dataset": "folder:7"}, headers=AUTH)
    assert r.status_code == 422 and "registered dataset" in r.json()["detail"]


def test_every_write_operation_is_refused_without_a_token_unless_declared_open(client):
    """The guard checks tokens before routing: its open writes are exactly the writes that need no token."""
    refused, answered = set(), set()
    for path, ops in client.get("/openapi.json").json()["paths"].items():
        for method in set(ops) - {m.lower() for m in SAFE_METHODS}:
            url = re.sub(r"\{[a-z_]+\}", lambda m: "1" if m.group() == "{trial_id}" else "x", path)
            r = client.request(method.upper(), url, json={})
            (refused if r.status_code == 401 else answered).add((method.upper(), path))
    assert answered == set(OPEN_WRITES) and len(refused) >= 5, (answered, refused)
