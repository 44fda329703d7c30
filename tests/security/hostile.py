"""The hostile review's attack classes as a fuzzer (issue 16), for tests/security/test_fuzz.py and
benchmarks/fuzz_summary.py: each example draws one class and random parameters, sends it to the in-process
service, and says what it must answer. Besides 5xx and unauthenticated state changes, an answer outside the
expected statuses, or a refusal that changed any row, is reported."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from recorder.config.security import EVENTGRID_APP_ID_PUBLIC_CLOUD, EventGridEntra, SecuritySettings
from recorder.db.repositories.access import ConsoleSessionRepository, KeyRepository
from recorder.observability import metrics
from recorder.services.tokens import console_sessions
from recorder.services.tokens.api_keys import Role, create_key
from tests.integration.compliance_world import A, B, NumberedAcs, record_call
from tests.security.fuzz import FuzzReport, send
from tests.security.jwks import Jwks
from tests.security.world import AUDIENCE, ISSUER, SECRET, World, make_world, now_iso

ENTRA_ISSUER, ENTRA_AUDIENCE = "https://sts.windows.net/tenant-1/", "api://recorder-eventgrid"
FORMULA = ["=", "+", "-", "@", "\t", "\r"]
DIGITS = ["\u00b2", "\u0661", "\U0001d7d9", "\uff11", "\u0966", "9" * 25]
BODY_ROUTES = [
    ("POST", "/api/keys"),
    ("POST", "/api/erasures"),
    ("POST", "/api/calls/conn-1/legal-hold"),
    ("DELETE", "/api/calls/conn-1/legal-hold"),
    ("POST", "/api/tokens/revoke"),
    ("POST", "/api/recordings"),
    ("POST", "/api/calls"),
    ("POST", "/api/exemptions"),
    ("POST", "/api/calls/conn-1/grants"),
]
BAD_HOSTS = [
    "evil.example\\.asm.skype.com",
    "x.asm.skype.com:99999",
    "x.asm.skype.com:abc",
    "[x",
    "u.asm.sk\u0443pe.com",
    "%65vil.asm.skype.com",
    "a@x.asm.skype.com",
]
BAD_CURSORS = ["v1:" + "9" * 30, "c1|2026-01-01T00:00:00|x", "c1|0001-01-01T00:00:00+14:00|x"]
BAD_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-05:00", "2026-01-01T00:00:00"]
MOVES = [("conn-1", "conn-2"), ("conn-2", "conn-1"), ("elsewhere", "conn-1")]
CALLBACK_TYPES = ["ParticipantsUpdated", "CallDisconnected", "PlayCompleted"]
NOT_EVENT_GRID = [{"appid": str(uuid.uuid4())}, {"appid": None, "azp": "x"}, {"appid": None}]
SEQUENCES = st.integers(1, 10**9)
WORDS = st.text(st.characters(min_codepoint=0x30, max_codepoint=0x7A, exclude_characters="\\`"), max_size=24)
ANY_BODY_ROUTE = [*BODY_ROUTES, ("POST", "/console/logout"), ("POST", "/console/login")]


@dataclass
class Hostile:
    world: World
    keys: dict[str, tuple[str, str]]  # name -> (key id, secret)
    jwks: Jwks

    def bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name][1]}"}

    def eventgrid_token(self, **claims: Any) -> dict[str, str]:
        claims = {"appid": EVENTGRID_APP_ID_PUBLIC_CLOUD, **claims}
        return {"Authorization": f"Bearer {self.jwks.token(ENTRA_ISSUER, ENTRA_AUDIENCE, **claims)}"}


def hostile_world(database_url: str, jwks: Jwks) -> Hostile:
    """Two live recorded calls (conn-1, conn-2), Entra ID required on Event Grid, a key per role plus a
    second service key, and a console session."""
    entra = EventGridEntra(ENTRA_AUDIENCE, (ENTRA_ISSUER,), jwks.url)
    world = make_world(
        database_url, jwks, acs=NumberedAcs(), security=SecuritySettings(eventgrid_entra=entra)
    )
    record_call(world.container, 1, (A, B), "one", recorded=True)
    record_call(world.container, 2, (A, B), "one", recorded=True)
    keys: dict[str, tuple[str, str]] = {}
    with world.container.sessions() as session:
        for role in Role:
            keys[role.value] = create_key(KeyRepository(session), role, f"hostile {role}", datetime.now(UTC))
        keys["service-b"] = create_key(
            KeyRepository(session), Role.SERVICE, "hostile service b", datetime.now(UTC)
        )
        session.commit()
        token = console_sessions.open_session(
            ConsoleSessionRepository(session), keys["auditor"][0], datetime.now(UTC)
        )
        session.commit()
    keys["console"] = ("", token)
    return Hostile(world, keys, jwks)


def _recording_file(url: str) -> dict[str, Any]:
    chunk = {"documentId": "d", "index": 0, "contentLocation": url}
    return {
        "id": str(uuid.uuid4()),
        "eventType": "Microsoft.Communication.RecordingFileStatusUpdated",
        "subject": "/recording/call/c/serverCallId/s",
        "eventTime": now_iso(),
        "data": {"recordingStorageInfo": {"recordingChunks": [chunk]}},
    }


def _callback(
    connection_id: str, event_type: str = "ParticipantsUpdated", sequence: int = 50
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": f"Microsoft.Communication.{event_type}",
        "specversion": "1.0",
        "time": now_iso(),
        "data": {
            "callConnectionId": connection_id,
            "serverCallId": "s",
            "sequenceNumber": sequence,
            "participants": [{"identifier": {"rawId": p}} for p in (A, B, "4:+14255550777")],
        },
    }


# Each case draws its parameters and returns (authenticated, expected statuses, must change nothing, request).
Case = tuple[bool, frozenset[int] | None, bool, dict[str, Any]]
Draw = Callable[..., Any]  # hypothesis' data.draw


def recording_url(h: Hostile, draw: Draw) -> Case:
    host = draw(st.sampled_from(BAD_HOSTS))
    path = draw(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20))
    body = json.dumps(_recording_file(f"https://{host}/{path}"))
    with_token = draw(st.booleans())
    headers = h.eventgrid_token() if with_token else {}
    expect = frozenset({400}) if with_token else frozenset({401})
    request = {"method": "POST", "path": "/webhooks/eventgrid", "params": {"secret": SECRET}}
    return with_token, expect, True, {**request, "content": body, "headers": headers}


def deep_json(h: Hostile, draw: Draw) -> Case:
    method, path = draw(st.sampled_from(BODY_ROUTES))
    depth = draw(st.integers(33, 80_000))
    nested = min(depth, 5000)
    body = b"[" * depth if draw(st.booleans()) else b'{"a":' * nested + b"1" + b"}" * nested
    who = draw(st.sampled_from([None, "admin", "operator", "service"]))
    headers = h.bearer(who) if who else {}
    expect = frozenset({400, 403, 413}) if who else frozenset({401})
    request = {"method": method, "path": path, "content": body, "headers": headers}
    return who is not None, expect, who is None, request


def oversize(h: Hostile, draw: Draw) -> Case:
    method, path = draw(st.sampled_from(ANY_BODY_ROUTE))
    size = draw(st.integers(1024 * 1024 + 1, 3 * 1024 * 1024))
    who = draw(st.sampled_from([None, "admin"]))
    headers = h.bearer(who) if who else {}
    request = {"method": method, "path": path, "content": b" " * size, "headers": headers}
    return who is not None, frozenset({413}), True, request


def bad_query(h: Hostile, draw: Draw) -> Case:
    path = draw(st.sampled_from(["/api/consents", "/api/calls", "/api/consents/export"]))
    name = draw(st.sampled_from(["limit", "since", "until", "cursor"]))
    if name == "limit" and path != "/api/consents/export":
        value = draw(st.sampled_from(DIGITS))
    elif name == "cursor" and path != "/api/consents/export":
        value = base64.urlsafe_b64encode(draw(st.sampled_from(BAD_CURSORS)).encode()).decode()
    else:
        name = draw(st.sampled_from(["since", "until"]))
        value = draw(st.sampled_from(BAD_TIMES))
    who = draw(st.sampled_from(["auditor", "operator", "admin"]))
    request = {"method": "GET", "path": path, "params": {name: value}, "headers": h.bearer(who)}
    return True, frozenset({400}), True, request


def forged_callback(h: Hostile, draw: Draw) -> Case:
    now = int(time.time())
    wrong: dict[str, Any] = draw(
        st.sampled_from(
            [
                {"exp": now - 600},
                {"aud": "another-resource"},
                {"iss": "https://evil.example"},
                {"iat": now, "exp": now + 7200},
                {"kid": "forged"},
            ]
        )
    )
    claims = dict(wrong)
    kid = claims.pop("kid", None)
    iss, aud = claims.pop("iss", ISSUER), claims.pop("aud", AUDIENCE)
    token = h.jwks.token(str(iss), str(aud), kid=kid, **claims)
    path = f"/webhooks/acs/{_call_id(h, 'conn-1')}"
    event = _callback("conn-1", sequence=draw(SEQUENCES))
    request = {"method": "POST", "path": path, "content": json.dumps([event])}
    return False, frozenset({401}), True, {**request, "headers": {"Authorization": f"Bearer {token}"}}


def moved_callback(h: Hostile, draw: Draw) -> Case:
    source, target = draw(st.sampled_from(MOVES))
    event = _callback(source, draw(st.sampled_from(CALLBACK_TYPES)), draw(SEQUENCES))
    token = h.jwks.token(ISSUER, AUDIENCE)
    path = f"/webhooks/acs/{_call_id(h, target)}"
    request = {"method": "POST", "path": path, "content": json.dumps([event])}
    return True, frozenset({403}), True, {**request, "headers": {"Authorization": f"Bearer {token}"}}


def invented_types(h: Hostile, draw: Draw) -> Case:
    names = draw(st.lists(st.from_regex(r"[A-Z][A-Za-z0-9]{0,30}", fullmatch=True), min_size=1, max_size=20))
    events = [
        {
            "id": str(uuid.uuid4()),
            "eventType": f"Microsoft.Communication.Made{n}",
            "subject": "",
            "eventTime": now_iso(),
            "data": {},
        }
        for n in names
    ]
    request = {"method": "POST", "path": "/webhooks/eventgrid", "params": {"secret": SECRET}}
    request |= {"content": json.dumps(events), "headers": h.eventgrid_token()}
    return True, frozenset({200}), False, request


def eventgrid_wrong_app(h: Hostile, draw: Draw) -> Case:
    claims: dict[str, Any] = draw(st.sampled_from(NOT_EVENT_GRID))
    if "appid" in claims and claims["appid"] is not None:
        claims = {"appid": str(draw(st.uuids()))}
    body = json.dumps([_recording_file("https://x.asm.skype.com/v1/objects/a/content/audio")])
    request = {"method": "POST", "path": "/webhooks/eventgrid", "params": {"secret": SECRET}, "content": body}
    return False, frozenset({401}), True, {**request, "headers": h.eventgrid_token(**claims)}


def console_cookie(h: Hostile, draw: Draw) -> Case:
    if draw(st.booleans()):  # an API key where the session token belongs: no session
        key = draw(st.sampled_from(["admin", "auditor", "operator"]))
        cookie = {"Cookie": f"recorder_console={h.keys[key][1]}"}
        path = draw(st.sampled_from(["/console/ledger", "/console/audit", "/console/export"]))
        request = {"method": "GET", "path": path, "headers": cookie, "params": {"participant": draw(WORDS)}}
        return False, frozenset({303}), True, request
    path = draw(st.sampled_from(["/api/consents", "/api/keys", "/api/calls"]))
    request = {
        "method": "GET",
        "path": path,
        "headers": h.bearer("console"),
        "params": {"participant": draw(WORDS)},
    }
    return False, frozenset({401}), True, request


def hijack(h: Hostile, draw: Draw) -> Case:
    body = draw(st.sampled_from([{"call_connection_id": "conn-1"}, {"server_call_id": "server-2"}]))
    body = {**body, "external_reference": draw(WORDS) or "x"}
    who = draw(st.sampled_from(["service", "service-b"]))
    headers = {**h.bearer(who), "Idempotency-Key": f"k-{draw(WORDS)}"}
    request = {"method": "POST", "path": "/api/recordings", "json": body, "headers": headers}
    return True, frozenset({404, 409}), True, request


FAMILIES: list[Callable[[Hostile, Draw], Case]] = [
    recording_url,
    deep_json,
    oversize,
    bad_query,
    forged_callback,
    moved_callback,
    invented_types,
    eventgrid_wrong_app,
    console_cookie,
    hijack,
]


def _call_id(h: Hostile, connection_id: str) -> str:
    with h.world.container.unit_of_work() as uow:
        return uow.calls.id_for_connection(connection_id) or "no-such-call"


def hostile_fuzz(h: Hostile, examples: int) -> FuzzReport:
    """``examples`` inputs, shared evenly by the attack classes (hypothesis draws each class's parameters)."""
    report = FuzzReport("issue 16 attack classes")
    started = time.monotonic()
    for i, family in enumerate(FAMILIES):
        share = examples // len(FAMILIES) + (1 if i < examples % len(FAMILIES) else 0)
        _fuzz_one(h, report, family, share)
    report.seconds = time.monotonic() - started
    invented = event_type_labels() - metrics.KNOWN_EVENT_TYPES - {"other"}
    if invented:
        report.unexpected.append(f"metric labels grew with invented event types: {sorted(invented)[:5]}")
    return report


def _fuzz_one(h: Hostile, report: FuzzReport, family: Callable[[Hostile, Draw], Case], examples: int) -> None:
    if examples == 0:
        return

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data: st.DataObject) -> None:
        authenticated, expect, unchanged, request = family(h, data.draw)
        description = f"{family.__name__}: {request['method']} {request['path']}"
        send(h.world, report, authenticated, description, expect=expect, unchanged=unchanged, **request)

    run()


def event_type_labels() -> set[str]:
    return {
        sample.labels["type"]
        for metric in REGISTRY.collect()
        if metric.name == "recorder_events_received"
        for sample in metric.samples
    }
