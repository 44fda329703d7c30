"""Fuzzing: the webhook parsers (pure), every HTTP route in-process over a real SQLite database built by
alembic, and the compliance API from its OpenAPI document (schemathesis). Zero 5xx, zero state changes (any
row inserted, updated or deleted) from requests without valid credentials. ``RECORDER_FUZZ_EXAMPLES`` sets
the examples per run (default 250). The harness itself is tested: a planted unauthenticated UPDATE must be
reported."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from recorder.adapters.identity import AcsIdentities, build_identity_client
from recorder.adapters.recording_urls import recording_url_problem
from recorder.config.security import EventWindow
from recorder.db.migrate import upgrade
from recorder.emulator import EmulatorConfig, start_emulator
from recorder.web.webhooks.auth import check_window
from recorder.web.webhooks.parsing import BadEvent, CallbackEvent, callback_events, envelopes, load_json
from recorder.web.webhooks.recording_files import recording_file_event
from tests.security.fuzz import (
    FuzzReport,
    api_keys,
    bodies,
    events,
    http_fuzz,
    json_values,
    schema_fuzz,
    send,
)
from tests.security.hostile import hostile_fuzz, hostile_world
from tests.security.jwks import jwks_server
from tests.security.world import World, make_world

EXAMPLES = int(os.environ.get("RECORDER_FUZZ_EXAMPLES", "250"))


# What the parsers may answer with; anything else (another exception, an unknown code) fails the test.
PARSER_CODES = {
    "batch_too_large",
    "empty_batch",
    "future_event",
    "invalid_event",
    "invalid_field",
    "invalid_recording_url",
    "invalid_time",
    "malformed_json",
    "missing_field",
    "stale_event",
    "too_deep",
}


def _check_refusal(exc: BadEvent) -> None:
    assert exc.code in PARSER_CODES, exc.code
    assert 0 < len(str(exc)) <= 1000  # a message for the answer, bounded whatever the input


def _check_callbacks(parsed: list[CallbackEvent], payload: Any) -> None:
    items = payload if isinstance(payload, list) else [payload]
    assert [(p.id, p.call_connection_id) for p in parsed] == [
        (item["id"], item["data"]["callConnectionId"]) for item in items
    ]
    for p in parsed:
        assert p.type and not p.type.startswith("Microsoft.Communication.")


@given(bodies)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_parsers_refuse_anything_malformed_with_bad_event_only(body: bytes) -> None:
    try:
        payload = load_json(body)
        parsed = envelopes(payload, 100)
        check_window(parsed, datetime.now(UTC), EventWindow())
        files = [recording_file_event(e) for e in parsed if e.type.endswith("RecordingFileStatusUpdated")]
        callbacks = callback_events(payload, datetime.now(UTC), 100)
    except BadEvent as exc:
        _check_refusal(exc)
        return
    assert 1 <= len(parsed) <= 100 and all(e.id and e.type for e in parsed)
    for file in files:
        for chunk in file.chunks:
            assert recording_url_problem(chunk.content_location) is None
    _check_callbacks(callbacks, payload)


@given(st.lists(events(), min_size=1, max_size=5) | json_values)
@settings(max_examples=EXAMPLES, deadline=None)
def test_callback_parser_on_event_shaped_values(payload: Any) -> None:
    try:
        parsed = callback_events(payload, datetime.now(UTC), 100)
    except BadEvent as exc:
        _check_refusal(exc)
        return
    _check_callbacks(parsed, payload)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, dict[str, str]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'recorder.db'}"
    upgrade(url)
    access_key = base64.b64encode(secrets.token_bytes(32)).decode()
    # POST /api/tokens reaches ACS's identity service once the document says what a user id looks like: the
    # emulator's, so a valid request gets its token rather than a 502 from an unreachable ACS
    with (
        jwks_server() as jwks,
        start_emulator(EmulatorConfig(access_key=access_key, resource_id="fuzz")) as acs,
    ):
        identities = AcsIdentities(build_identity_client(acs.url, access_key, None))
        w = make_world(url, jwks, identities=identities)
        try:
            yield w, api_keys(w)
        finally:
            w.close()


def _report(report: FuzzReport, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\n[fuzz] {report.line()}")
    assert report.inputs > 0
    assert report.server_errors == []
    assert report.unauthenticated_state_changes == []
    assert report.unexpected == []


def test_the_attack_classes_of_issue_16(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'hostile.db'}"
    upgrade(url)
    with jwks_server() as jwks:
        hostile = hostile_world(url, jwks)
        try:
            report = hostile_fuzz(hostile, EXAMPLES)
        finally:
            hostile.world.close()
    assert report.unauthenticated > EXAMPLES // 5
    _report(report, capsys)


def test_http_endpoints_fuzz(world: tuple[World, dict[str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    w, keys = world
    report = http_fuzz(w, keys, EXAMPLES)
    assert report.unauthenticated > EXAMPLES // 4
    _report(report, capsys)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_openapi_operations_fuzz(
    world: tuple[World, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    w, keys = world
    _report(schema_fuzz(w, keys, EXAMPLES), capsys)


def test_the_harness_reports_an_unauthenticated_update(
    world: tuple[World, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A planted route that renames an API key without any credential: the row count stays the same, the
    content does not, and the harness must say so (a harness comparing counts would pass it)."""
    w, _ = world

    def rename_a_key(request: Request) -> JSONResponse:
        with w.container.engine.begin() as connection:
            connection.execute(text("UPDATE api_keys SET name = 'renamed by nobody'"))
        return JSONResponse({"ok": True})

    planted = Route("/planted", rename_a_key, methods=["POST"])
    w.app.router.routes.append(planted)
    try:
        report = FuzzReport("planted")
        send(w, report, False, "POST /planted", method="POST", path="/planted")
    finally:
        w.app.router.routes.remove(planted)
    assert report.inputs == report.unauthenticated == 1
    assert len(report.unauthenticated_state_changes) == 1
    assert "api_keys" in report.unauthenticated_state_changes[0]
