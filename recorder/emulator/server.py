"""Running the emulator: in a background thread (tests) or in the foreground (the CLI)."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from types import TracebackType

import httpx
import uvicorn
from starlette.types import ASGIApp

from recorder.emulator.app import create_app
from recorder.emulator.config import EmulatorConfig

log = logging.getLogger("recorder.emulator")
STARTUP_TIMEOUT_S = 15.0


def _check_loopback(host: str) -> None:
    """The control API has no authentication, so the emulator must not listen beyond this machine."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the emulator binds loopback addresses only, not {host!r}")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _uvicorn_config(app: ASGIApp) -> uvicorn.Config:
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", ws="none")


class ThreadedServer:
    """Any ASGI app served by uvicorn in a daemon thread on an already bound socket."""

    def __init__(self, app: ASGIApp, sock: socket.socket) -> None:
        self._sock = sock
        self._server = uvicorn.Server(_uvicorn_config(app))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)

    @property
    def port(self) -> int:
        port: int = self._sock.getsockname()[1]
        return port

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=STARTUP_TIMEOUT_S)
        self._sock.close()


def serve_in_thread(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> ThreadedServer:
    server = ThreadedServer(app, _bind(host, port))
    server.start()
    return server


class RunningEmulator:
    """An emulator running in a background thread; ``stop()`` (or leaving the ``with`` block) ends it."""

    def __init__(self, config: EmulatorConfig, server: ThreadedServer, url: str, issuer: str) -> None:
        self.config = config
        self.url = url
        self.jwks_url = f"{url}/calling/keys"
        self.issuer = issuer
        self._server = server

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_emulator(config: EmulatorConfig, host: str = "127.0.0.1", port: int = 0) -> RunningEmulator:
    """Start the emulator on ``host:port`` (0: a free port) and return once it answers HTTP."""
    _check_loopback(host)
    sock = _bind(host, port)
    url = _url(config.public_host, sock.getsockname()[1])
    app = create_app(config, base_url=url)
    server = ThreadedServer(app, sock)
    server.start()
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        client.get(f"{_url(host, server.port)}/calling/keys").raise_for_status()
    return RunningEmulator(config, server, url, app.state.emulator.issuer)


def run_forever(config: EmulatorConfig, host: str, port: int) -> None:
    """Serve the emulator in the foreground until interrupted (the ``recorder emulator`` command)."""
    _check_loopback(host)
    sock = _bind(host, port)
    url = _url(config.public_host, sock.getsockname()[1])
    app = create_app(config, base_url=url)
    log.info("emulator.started url=%s issuer=%s", url, app.state.emulator.issuer)
    try:
        uvicorn.Server(_uvicorn_config(app)).run(sockets=[sock])
    finally:
        sock.close()
