"""``recorder demo``: the emulator, the service and a few simulated calls, all on this machine."""

from __future__ import annotations

import base64
import os
import secrets
import time
from dataclasses import replace
from typing import Any

import httpx

from recorder import bootstrap
from recorder.cli.common import require_free_port
from recorder.cli.db import migrate_to_head
from recorder.cli.demo_storage import (
    INSTALL_HINT,
    DemoAzurite,
    azurite_command,
    demo_storage_settings,
    where_landed,
)
from recorder.cli.demo_storage import start_azurite as start_demo_azurite
from recorder.config.database_urls import shown
from recorder.config.settings import Settings, load_settings
from recorder.db.repositories.access import KeyRepository
from recorder.emulator import EmulatorConfig, start_emulator
from recorder.emulator.server import RunningEmulator, serve_in_thread
from recorder.observability import logs
from recorder.services.tokens.api_keys import Role, create_key
from recorder.web.app import create_app

CENTER = "4:+18005550100"
SPEECH = "https://demo-speech.cognitiveservices.azure.com/"  # the emulated resource's linked AI services
SCENARIOS: list[tuple[str, list[dict[str, Any]]]] = [
    (
        "everyone agrees",
        [
            {"raw_id": "4:+14255550101", "answers": ["1"], "leave_at_ms": 4000},
            {"raw_id": "4:+14255550102", "answers": ["1"], "answer_delay_ms": 200, "leave_at_ms": 4000},
            {"raw_id": "4:+14255550103", "answers": ["1"], "answer_delay_ms": 400, "leave_at_ms": 4000},
        ],
    ),
    (
        "a caller from London agrees",  # recorded in westeurope; the +1 callers above in eastus
        [{"raw_id": "4:+442071234567", "answers": ["1"], "leave_at_ms": 4000}],
    ),
    (
        "one declines",
        [
            {"raw_id": "4:+14255550201", "answers": ["1"], "leave_at_ms": 2000},
            {"raw_id": "4:+14255550202", "answers": ["2"], "leave_at_ms": 2000},
        ],
    ),
    (
        "one stays silent",
        [
            {
                "raw_id": "4:+14255550301",
                "answers": ["silence", "silence", "silence"],
                "silence_ms": 300,
                "leave_at_ms": 3000,
            }
        ],
    ),
    (
        "a late joiner agrees",  # recording pauses when they join, resumes once they agree
        [
            {"raw_id": "4:+14255550401", "answers": ["1"], "leave_at_ms": 5000},
            {"raw_id": "4:+14255550402", "answers": ["1"], "join_at_ms": 2000, "leave_at_ms": 5000},
        ],
    ),
    (
        "one withdraws",  # presses 9 after agreeing: recording pauses until they leave
        [
            {
                "raw_id": "4:+14255550501",
                "answers": ["1"],
                "continuous_tones": [{"at_ms": 2000, "tone": "9"}],
                "leave_at_ms": 3500,
            },
            {"raw_id": "4:+14255550502", "answers": ["1"], "leave_at_ms": 5000},
        ],
    ),
]


def run_demo(port: int = 8080, keep_serving: bool = True) -> int:
    """0 after the summary (``keep_serving=False``); Ctrl-C raises KeyboardInterrupt once all is stopped."""
    logs.configure("WARNING")
    settings = load_settings(os.environ, for_serving=False)
    require_free_port("127.0.0.1", port)  # before anything starts or any file is written
    migrate_to_head(settings.database_url)
    azurite, storage_note = _demo_storage(settings)
    emulator = server = None
    try:
        if azurite is not None:
            settings = replace(settings, storage=demo_storage_settings(azurite))
        settings, emulator = _with_emulator(settings, port)
        container = bootstrap.build(settings)
        server = serve_in_thread(create_app(container), "127.0.0.1", port)
        print(
            f"recorder demo: service {settings.public_url}, ACS emulator {emulator.url}, database "
            f"{shown(settings.database_url)}"
        )
        print(f"recordings: {storage_note}")
        calls = _place_calls(emulator.url)
        results = _wait_until_ended(emulator.url, calls)
        _print_summary(results, container, emulator.url)
        if keep_serving:
            _print_auditor_curl(settings, container)
            print("\nThe service keeps running for your queries; press Ctrl-C to stop.")
            while True:
                time.sleep(3600)
    finally:  # Ctrl-C (KeyboardInterrupt) goes on to the command line: exit code 130
        for running in (server, emulator, azurite):
            if running is not None:
                running.stop()
    return 0


def _with_emulator(settings: Settings, port: int) -> tuple[Settings, RunningEmulator]:
    """The emulator on a free port, and the settings that point the service at it."""
    access_key = base64.b64encode(secrets.token_bytes(32)).decode()
    secret = secrets.token_urlsafe(24)
    public_url = f"http://127.0.0.1:{port}"
    emulator = start_emulator(
        EmulatorConfig(
            access_key=access_key,
            resource_id="demo-acs-resource",
            eventgrid_webhook_url=f"{public_url}/webhooks/eventgrid?secret={secret}",
            cognitive_services_endpoints=(SPEECH,),
        )
    )
    settings = replace(
        settings,
        acs_endpoint=emulator.url,
        acs_access_key=access_key,
        acs_resource_id="demo-acs-resource",
        public_url=public_url,
        callback_issuer=emulator.issuer,
        callback_jwks_url=emulator.jwks_url,
        eventgrid_secret=secret,
        cognitive_services_endpoint=SPEECH,
    )
    return settings, emulator


def _demo_storage(settings: Settings) -> tuple[DemoAzurite | None, str]:
    """Azurite in memory with two regions, unless storage is configured already or Azurite is missing."""
    if settings.storage is not None:
        return None, "stored as configured in [storage]"
    command = azurite_command()
    if command is None:
        return (
            None,
            f"not stored: azurite-blob was not found; to see them land in Blob storage: {INSTALL_HINT}",
        )
    try:
        azurite = start_demo_azurite(command)
    except RuntimeError as exc:
        return None, f"not stored: {exc}"
    return azurite, (
        f"Blob storage (Azurite, in memory) {azurite.account_url}: westeurope -> container recordings-weu "
        "(default), eastus -> recordings-eus (callers 4:+1...)"
    )


def _place_calls(emulator_url: str) -> list[tuple[str, str]]:
    placed = []
    for title, participants in SCENARIOS:
        body = {"from": participants[0]["raw_id"], "to": CENTER, "participants": participants}
        response = httpx.post(f"{emulator_url}/emulator/calls", json=body, timeout=10)
        response.raise_for_status()
        placed.append((title, response.json()["server_call_id"]))
    return placed


def _wait_until_ended(emulator_url: str, calls: list[tuple[str, str]], timeout: float = 60) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        states = [
            (title, httpx.get(f"{emulator_url}/emulator/calls/{server_call_id}", timeout=10).json())
            for title, server_call_id in calls
        ]
        if all(s["state"] == "disconnected" for _, s in states) or time.monotonic() > deadline:
            time.sleep(0.5)  # let the last callbacks land
            return states
        time.sleep(0.2)


def _print_summary(results: list[Any], container: bootstrap.Container, emulator_url: str) -> None:
    from recorder.services.queries import ledger as queries

    with container.sessions() as session:
        for title, call in results:
            timeline = queries.call_timeline(session, call["call_connection_id"] or "")
            print(f"\n== {title}  (call connection {call['call_connection_id']})")
            if timeline is None:
                print("   the service never connected to this call")
                continue
            for entry in timeline["consents"]:
                print(f"   {entry['participant']:<18} {entry['outcome']:<12} via {entry['method']}")
            segments = ", ".join(s["kind"] for s in timeline["recording_segments"]) or "never recorded"
            print(f"   recording: {segments}")
            unconsented = sum(call.get("unconsented_recorded_ms", {}).values())
            print(f"   recorded without consent: {unconsented} ms")
            if container.storage is not None:  # where the recording landed
                session.rollback()  # end this read: SQLite's lock would hold up the transfers we wait for
                recorded = bool(timeline["recording_segments"])
                for line in where_landed(
                    container.storage, container.sessions, emulator_url, call["server_call_id"], recorded
                ):
                    print(f"   {line}")


def _print_auditor_curl(settings: Settings, container: bootstrap.Container) -> None:
    """Only while the service runs: a curl line for a stopped service would fail."""
    with container.sessions() as session:
        _, key = create_key(KeyRepository(session), Role.AUDITOR, "demo auditor", container.clock())
        session.commit()
    print("\nRead the consent ledger as an auditor:")
    print(f"   curl -H 'Authorization: Bearer {key}' {settings.public_url}/api/consents")
