"""Runs the emulator and the service as separate processes, the way an operator would."""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

RESOURCE_ID = "e2e-acs-resource"
SPEECH = "https://e2e-speech.cognitiveservices.azure.com/"  # linked to the emulated resource: TTS works
CONFIG = """
[consent]
reprompts = 2
silence_timeout_seconds = 1

[calls]
reconcile_seconds = 1
answer_margin_seconds = 3
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ProcessDied(RuntimeError):
    pass


def wait_http(url: str, timeout: float = 60, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ProcessDied(f"exited with {process.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


class TrustedKeys:
    """A JWKS endpoint the service trusts: the emulator's keys plus one test key, so the tests can sign
    tokens with a trusted key and wrong claims (expired, wrong audience) and see the claim checks work."""

    def __init__(self, emulator_jwks_url: str) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "e2e-test-key"
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        self.test_jwk = {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}
        self.emulator_jwks_url = emulator_jwks_url
        self.port = free_port()

        async def keys(request: Request) -> JSONResponse:
            upstream = httpx.get(self.emulator_jwks_url, timeout=5).json()["keys"]
            return JSONResponse({"keys": [*upstream, self.test_jwk]})

        config = uvicorn.Config(Starlette(routes=[Route("/keys", keys)]), port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        threading.Thread(target=self.server.run, daemon=True).start()
        wait_http(self.url)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/keys"

    def token(self, issuer: str, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": issuer, "aud": RESOURCE_ID, "iat": now, "nbf": now, "exp": now + 300, **overrides}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    def stop(self) -> None:
        self.server.should_exit = True


@dataclass
class Stack:
    service_url: str
    emulator_url: str
    secret: str
    keys: TrustedKeys
    env: dict[str, str]
    auditor_key: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    service: subprocess.Popen[bytes] | None = None
    start_service: Callable[[], subprocess.Popen[bytes]] | None = None

    @property
    def issuer(self) -> str:
        return self.emulator_url

    def place_call(self, participants: list[dict[str, Any]]) -> str:
        body = {"from": participants[0]["raw_id"], "to": "4:+18005550100", "participants": participants}
        response = httpx.post(f"{self.emulator_url}/emulator/calls", json=body, timeout=10)
        response.raise_for_status()
        return str(response.json()["server_call_id"])

    def emulated_call(self, server_call_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.emulator_url}/emulator/calls/{server_call_id}", timeout=10)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def wait_until_ended(self, server_call_id: str, timeout: float = 30, poll: float = 0.1) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            call = self.emulated_call(server_call_id)
            if call["state"] == "disconnected":
                time.sleep(0.5)  # the last callbacks are still on their way
                return self.emulated_call(server_call_id)
            time.sleep(poll)
        raise TimeoutError(f"call {server_call_id} did not end")

    def consents(self, **filters: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.service_url}/api/consents",
            params=filters,
            headers={"Authorization": f"Bearer {self.auditor_key}"},
            timeout=10,
        )
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "recorder", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )


def start_stack(
    database_url: str,
    workdir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    workers: int = 1,
    config: str = CONFIG,
    publish_events: bool = False,
    emulator_args: tuple[str, ...] = (),
) -> Generator[Stack, None, None]:
    service_port = free_port()
    service_url = f"http://127.0.0.1:{service_port}"
    access_key = base64.b64encode(secrets.token_bytes(32)).decode()
    secret = secrets.token_urlsafe(24)
    topic_key = secrets.token_urlsafe(24)  # the emulator's Event Grid topic at /api/events
    (workdir / "recorder.toml").write_text(config)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")}
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []

    def spawn(name: str, args: list[str], env: dict[str, str], ready_url: str) -> subprocess.Popen[bytes]:
        log = workdir / f"{name}.log"
        logs.append(log)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "recorder", *args], env=env, stdout=out, stderr=out
            )
        processes.append(process)
        wait_http(ready_url, process=process)
        return process

    def start_emulator() -> str:
        for attempt in range(3):  # a free port can be taken by someone else before the emulator binds it
            port = free_port()
            args = [
                *("emulator", "--port", str(port), "--access-key", access_key, "--resource-id", RESOURCE_ID),
                *("--eventgrid-webhook-url", f"{service_url}/webhooks/eventgrid?secret={secret}"),
                f"--events-topic-key={topic_key}",  # "=": a random key may start with "-"
                *("--cognitive-services-endpoint", SPEECH),
                *emulator_args,
            ]
            try:
                spawn("emulator", args, base_env, f"http://127.0.0.1:{port}/calling/keys")
                return f"http://127.0.0.1:{port}"
            except ProcessDied:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    keys: TrustedKeys | None = None
    try:
        emulator_url = start_emulator()
        keys = TrustedKeys(f"{emulator_url}/calling/keys")
        topic = {
            "RECORDER_EVENTS_TOPIC_ENDPOINT": f"{emulator_url}/api/events",
            "RECORDER_EVENTS_TOPIC_KEY": topic_key,
        }
        env = {
            **base_env,
            "RECORDER_CONFIG": str(workdir / "recorder.toml"),
            "RECORDER_DATABASE_URL": database_url,
            "RECORDER_ACS_ENDPOINT": emulator_url,
            "RECORDER_ACS_ACCESS_KEY": access_key,
            "RECORDER_ACS_RESOURCE_ID": RESOURCE_ID,
            "RECORDER_PUBLIC_URL": service_url,
            "RECORDER_ACS_CALLBACK_ISSUER": emulator_url,
            "RECORDER_ACS_CALLBACK_JWKS_URL": keys.url,
            "RECORDER_EVENTGRID_SECRET": secret,
            "RECORDER_COGNITIVE_SERVICES_ENDPOINT": SPEECH,
            **(topic if publish_events else {}),
            **(extra_env or {}),
        }
        stack = Stack(service_url, emulator_url, secret, keys, env, processes=processes, logs=logs)
        upgraded = stack.cli("db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        created = stack.cli("keys", "create", "--role", "auditor", "--name", "e2e auditor")
        assert created.returncode == 0, created.stderr
        stack.auditor_key = created.stdout.strip().splitlines()[-1]
        serve = ["serve", "--port", str(service_port), "--workers", str(workers)]

        def start_service() -> subprocess.Popen[bytes]:
            return spawn(f"service-{len(processes)}", serve, env, f"{service_url}/healthz")

        stack.service = start_service()
        stack.start_service = start_service
        yield stack
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        if keys is not None:
            keys.stop()


READS = frozenset({"get_call_properties", "list_participants", "get_recording_properties"})


def changes(call: dict[str, Any]) -> list[dict[str, Any]]:
    """The requests the service made to ACS for a call, without the reconciliation loop's reads."""
    return [r for r in call["requests"] if r["operation"] not in READS]


def published(stack: Stack, server_call_id: str) -> list[dict[str, Any]]:
    """What a subscriber to the Event Grid topic received about one call, in order."""
    response = httpx.get(
        f"{stack.emulator_url}/emulator/published",
        params={"source": f"/recorder/calls/{server_call_id}"},
        timeout=10,
    )
    events: list[dict[str, Any]] = response.json()["events"]
    return events


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def stack_on_backend(request: pytest.FixtureRequest, workdir: Path, **options: Any) -> Iterator[Stack]:
    """A stack on the backend a fixture is parametrized with (BACKENDS), on a fresh database."""
    if request.param == "sqlite":
        yield from start_stack(f"sqlite:///{workdir / 'recorder.db'}", workdir, **options)
        return
    from tests.conftest import drop_postgres_database, fresh_postgres_database

    admin_url = request.getfixturevalue("postgres_server")
    url, name = fresh_postgres_database(admin_url)
    try:
        yield from start_stack(url, workdir, **options)
    finally:
        drop_postgres_database(admin_url, name)
