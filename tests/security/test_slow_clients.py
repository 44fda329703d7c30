"""Slow and greedy clients against a real ``recorder serve`` process, over raw sockets: idle connections,
headers sent a byte at a time, idle keep-alive, slow bodies (unauthenticated and authenticated) are all cut
off, and connections beyond the limit are refused with 503. The deadlines are set short for the test
(2 s headers, 1 s keep-alive, 2 s body, 8 connections); each check waits far longer than that, so a server
that holds the socket fails it, and one that closes it passes whatever the machine's load."""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from tests.e2e.stack import free_port, wait_http

PATIENCE = 20.0  # seconds a check waits for the server to act; ten times the deadline under test


@dataclass
class Server:
    port: int
    admin_key: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("slow-clients")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")},
        "RECORDER_DATABASE_URL": f"sqlite:///{workdir / 'recorder.db'}",
        "RECORDER_ACS_ENDPOINT": "http://127.0.0.1:9",  # nothing listens: no call is placed here
        "RECORDER_ACS_ACCESS_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "RECORDER_ACS_RESOURCE_ID": "slow-clients",
        "RECORDER_ACS_CALLBACK_JWKS_URL": "http://127.0.0.1:9/keys",
        "RECORDER_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "RECORDER_EVENTGRID_SECRET": secrets.token_urlsafe(24),
        "RECORDER_HTTP_HEADER_TIMEOUT_SECONDS": "2",
        "RECORDER_HTTP_KEEPALIVE_SECONDS": "1",
        "RECORDER_HTTP_BODY_TIMEOUT_SECONDS": "2",
        "RECORDER_HTTP_MAX_CONNECTIONS": "8",
    }

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "recorder", *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("db", "upgrade")
    admin_key = cli("keys", "create", "--role", "admin", "--name", "slow").strip().splitlines()[-1]
    log = (workdir / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "recorder", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process=process)
        yield Server(port, admin_key)
    finally:
        process.terminate()
        process.wait(15)
        log.close()


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def closed_by_server(sock: socket.socket, trickle: bytes = b"") -> bool:
    """True once the server closes the connection (EOF or reset); False if it is still open after PATIENCE.
    With ``trickle``, one byte of it is sent every 0.2 s meanwhile."""
    deadline = time.monotonic() + PATIENCE
    sock.settimeout(0.2)
    sent = 0
    while time.monotonic() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            pass
        except ConnectionError:
            return True
        if trickle:
            try:
                sock.sendall(trickle[sent % len(trickle) : sent % len(trickle) + 1])
            except OSError:
                return True
            sent += 1
    return False


def response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or PATIENCE passes)."""
    sock.settimeout(PATIENCE)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionError):
        pass
    return data


def test_an_idle_connection_is_closed(server: Server) -> None:
    with connect(server) as sock:
        assert closed_by_server(sock)


def test_headers_sent_a_byte_at_a_time_are_cut_off(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert closed_by_server(sock, trickle=b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaa\r\n")


def test_an_idle_keep_alive_connection_is_closed(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        assert closed_by_server(sock)


def test_an_unauthenticated_slow_body_gets_its_401_at_once_and_the_socket_back(server: Server) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /api/erasures HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        answer = response(sock)  # the body never comes: the server must answer and close anyway
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        assert b"connection: close" in answer.lower()
        assert time.monotonic() - started < PATIENCE


def test_an_unauthenticated_small_body_is_read_before_its_401_so_no_reset_can_eat_the_answer(
    server: Server,
) -> None:
    """httpx sends a body in its own packet: answered and closed before it arrived, the server's kernel
    answers the late body with a reset, which can reach the client before the 401 does. A small body that
    comes at once is read and dropped first, and the socket stays usable."""
    with connect(server) as sock:
        sock.sendall(
            b"POST /api/erasures HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\n\r\n"
        )
        time.sleep(0.05)
        sock.sendall(b"{}")
        head, _, _ = one_answer(sock).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 401"), head
        assert b"connection: close" not in head.lower()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert response(sock).startswith(b"HTTP/1.1 200")


def one_answer(sock: socket.socket) -> bytes:
    """One response on a connection that stays open: its head, then Content-Length bytes of body."""
    sock.settimeout(PATIENCE)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_an_authenticated_slow_body_is_408_after_the_body_deadline(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /api/erasures HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {server.admin_key}\r\n".encode()
            + b'Content-Length: 1000\r\n\r\n{"participant": '
        )
        answer = response(sock)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"body_timeout" in answer


def test_connections_beyond_the_limit_are_refused_with_503(server: Server) -> None:
    with ExitStack() as held:
        for _ in range(8):  # the limit, held open by idle clients
            held.enter_context(connect(server))
        with connect(server) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = response(extra)
    assert answer.startswith(b"HTTP/1.1 503"), answer[:200]


def test_the_server_still_serves_after_all_of_that(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert response(sock).startswith(b"HTTP/1.1 200")


def test_the_limits_are_the_documented_defaults_when_unset() -> None:
    from recorder.config.security import HttpLimits
    from recorder.config.settings import ConfigError, load_settings

    assert load_settings({}, for_serving=False).security.http == HttpLimits(256, 5, 10, 20)
    bad = {"RECORDER_HTTP_HEADER_TIMEOUT_SECONDS": "\u00b2", "RECORDER_HTTP_MAX_CONNECTIONS": "0"}
    with pytest.raises(ConfigError) as refused:
        load_settings(bad, for_serving=False)
    assert len(refused.value.problems) == 2
