"""Fuzzing: the webhook parsers (pure), every HTTP route in-process over a real SQLite database built by
alembic, and the compliance API from its OpenAPI document (schemathesis). Zero 5xx, zero state changes from
requests without valid credentials. ``RECORDER_FUZZ_EXAMPLES`` sets the examples per run (default 250)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recorder.db.migrate import upgrade
from recorder.security_config import EventWindow
from recorder.web.event_window import check_window
from recorder.web.parsing import BadEvent, callback_events, envelopes, load_json
from recorder.web.recording_files import recording_file_event
from tests.security.fuzz import FuzzReport, api_keys, bodies, events, http_fuzz, json_values, schema_fuzz
from tests.security.jwks import jwks_server
from tests.security.world import World, make_world

EXAMPLES = int(os.environ.get("RECORDER_FUZZ_EXAMPLES", "250"))


@given(bodies)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_parsers_refuse_anything_malformed_with_bad_event_only(body: bytes) -> None:
    try:
        payload = load_json(body)
        parsed = envelopes(payload, 100)
        check_window(parsed, datetime.now(UTC), EventWindow())
        for envelope in parsed:
            if envelope.type.endswith("RecordingFileStatusUpdated"):
                recording_file_event(envelope)
        callback_events(payload, datetime.now(UTC), 100)
    except BadEvent as exc:
        refused: BadEvent | None = exc
    else:
        refused = None
    assert refused is None or (refused.code and str(refused))


@given(st.lists(events(), min_size=1, max_size=5) | json_values)
@settings(max_examples=EXAMPLES, deadline=None)
def test_callback_parser_on_event_shaped_values(payload: Any) -> None:
    try:
        callback_events(payload, datetime.now(UTC), 100)
    except BadEvent as exc:
        code = exc.code
    else:
        code = "ok"
    assert code


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, dict[str, str]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'recorder.db'}"
    upgrade(url)
    with jwks_server() as jwks:
        w = make_world(url, jwks)
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
