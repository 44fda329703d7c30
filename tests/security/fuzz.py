"""Fuzz harness for tests/security/test_fuzz.py and benchmarks/fuzz_summary.py: hypothesis-made requests
to every route of the in-process service (World), with and without credentials, and schemathesis cases from
the compliance API's OpenAPI document. It counts inputs, 5xx answers, and requests without valid credentials
that changed any table's contents: a row inserted, updated or deleted (both must stay 0)."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from recorder.db.repositories.access import ConsoleSessionRepository, KeyRepository
from recorder.db.tables.access import ApiKey
from recorder.services.tokens import console_sessions
from recorder.services.tokens.api_keys import Role, create_key
from tests.security.world import AUDIENCE, ISSUER, SECRET, World, incoming_call, now_iso

FORGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # a key nobody trusts


@dataclass
class FuzzReport:
    name: str
    inputs: int = 0
    unauthenticated: int = 0
    server_errors: list[str] = field(default_factory=list)
    unauthenticated_state_changes: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # an answer the case did not allow, or a refusal
    statuses: Counter[int] = field(default_factory=Counter)  # that changed something
    seconds: float = 0.0

    def line(self) -> str:
        top = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"{self.name}: {self.inputs} inputs ({self.unauthenticated} without valid credentials) in "
            f"{self.seconds:.1f} s; 5xx: {len(self.server_errors)}; unauthenticated state changes: "
            f"{len(self.unauthenticated_state_changes)}; unexpected answers: {len(self.unexpected)}; "
            f"statuses {{{top}}}"
        )

    @property
    def failures(self) -> list[str]:
        return self.server_errors + self.unauthenticated_state_changes + self.unexpected


def api_keys(world: World) -> dict[str, str]:
    keys = {}
    with world.container.sessions() as session:
        for role in Role:
            keys[str(role)] = create_key(KeyRepository(session), role, f"fuzz {role}", datetime.now(UTC))[1]
        expired = create_key(
            KeyRepository(session),
            Role.ADMIN,
            "expired",
            datetime.now(UTC) - timedelta(days=2),
            timedelta(days=1),
        )
        keys["expired"] = expired[1]
        session.commit()
        auditor_id = session.scalar(select(ApiKey.id).where(ApiKey.name == "fuzz auditor"))
        assert auditor_id is not None
        keys["console session"] = console_sessions.open_session(
            ConsoleSessionRepository(session), auditor_id, datetime.now(UTC)
        )
        session.commit()
    return keys


def route_methods(world: World) -> dict[str, list[str]]:
    """Each route's path and the methods it answers."""
    found: dict[str, set[str]] = {}
    for route in world.app.routes:
        path = getattr(route, "path", None)
        if isinstance(path, str):
            found.setdefault(path, set()).update(getattr(route, "methods", None) or {"GET"})
    return {path: sorted(methods) for path, methods in sorted(found.items())}


# ---- request parts ---------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
EVENT_TYPES = [
    "Microsoft.Communication.IncomingCall",
    "Microsoft.Communication.RecordingFileStatusUpdated",
    "Microsoft.Communication.CallConnected",
    "Microsoft.Communication.ParticipantsUpdated",
    "Microsoft.Communication.RecognizeCompleted",
    "Microsoft.Communication.RecordingStateChanged",
    "Microsoft.EventGrid.SubscriptionValidationEvent",
]


@st.composite
def events(draw: st.DrawFn) -> Any:
    """Event-shaped values: mostly well-formed envelopes with mutated data, sometimes anything at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    event = incoming_call(draw(st.text(min_size=1, max_size=20)))
    event["eventType"] = draw(st.sampled_from(EVENT_TYPES) | st.text(max_size=40))
    if draw(st.booleans()):
        event["specversion"], event["type"] = "1.0", event.pop("eventType")
        event["time"] = event.pop("eventTime")
    for key in draw(st.lists(st.sampled_from(sorted(event)), max_size=2)):
        event[key] = draw(json_values)
    for key in draw(st.lists(st.text(max_size=20), max_size=3)):
        event["data"] = event["data"] if isinstance(event.get("data"), dict) else {}
        event["data"][key] = draw(json_values)
    if draw(st.booleans()):
        event["eventTime" if "eventTime" in event else "time"] = now_iso(minutes=draw(st.integers(-3000, 30)))
    return event


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(events(), min_size=0, max_size=4).map(lambda v: json.dumps(v).encode()),
    events().map(lambda v: json.dumps(v).encode()),
)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


def forged_jwt(draw: Callable[..., Any]) -> str:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300, "roles": ["Recorder.Admin"]}
    return jwt.encode(
        claims, FORGER, algorithm="RS256", headers={"kid": draw(st.sampled_from(["test-key", "x"]))}
    )


@st.composite
def credentials(draw: st.DrawFn, keys: dict[str, str]) -> tuple[dict[str, str], dict[str, str], bool]:
    """(headers, query, authenticated?)"""
    choice = draw(st.integers(0, 9))
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    authenticated = False
    if choice == 0:
        headers["Authorization"] = draw(header_text)
    elif choice == 1:
        headers["Authorization"] = f"Bearer {forged_jwt(draw)}"
    elif choice == 2:
        headers["Authorization"] = f"Bearer {keys['expired']}"
    elif choice == 3:
        headers["Authorization"] = f"Bearer {draw(st.sampled_from(sorted(keys.values())))}x"
    elif choice == 4:
        query["secret"] = draw(st.sampled_from([SECRET[:-1], SECRET.upper(), "", SECRET + " "]))
    elif choice in (5, 6):
        role = draw(st.sampled_from([str(r) for r in Role]))
        headers["Authorization"] = f"Bearer {keys[role]}"
        authenticated = True
    elif choice == 7:
        query["secret"] = SECRET
        authenticated = True
    if draw(st.booleans()):  # an API key in the cookie is no session: only the session token signs in
        cookie = draw(st.sampled_from([*keys.values(), "x"]))
        headers["Cookie"] = f"recorder_console={cookie}"
        authenticated = authenticated or cookie == keys["console session"]
    for name in draw(
        st.lists(
            st.sampled_from(["Content-Type", "X-Forwarded-Proto", "Idempotency-Key", "Origin"]), max_size=2
        )
    ):
        headers[name] = draw(header_text)
    return headers, query, authenticated


def fill(path: str, draw: Callable[..., Any]) -> str:
    segment = st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"),
        min_size=1,
        max_size=20,
    )
    return re.sub(r"\{[^}]+\}", lambda _: draw(segment), path)


# ---- runs ------------------------------------------------------------------------------------------------


def send(
    world: World,
    report: FuzzReport,
    authenticated: bool,
    description: str,
    *,
    expect: frozenset[int] | None = None,
    unchanged: bool = False,
    **request: Any,
) -> httpx.Response:
    """One request; counts it, and records a 5xx, a state change without valid credentials, an answer outside
    ``expect``, and (with ``unchanged``) any state change at all."""
    before = world.snapshot() if unchanged or not authenticated else None
    response = world.request(**request)
    report.inputs += 1
    report.statuses[response.status_code] += 1
    not_ready = response.status_code == 503 and request["path"] == "/readyz"  # in-process: no dispatcher
    if response.status_code >= 500 and not not_ready:
        report.server_errors.append(f"{description} -> {response.status_code} {response.text[:200]}")
    if expect is not None and response.status_code not in expect:
        report.unexpected.append(f"{description} -> {response.status_code} {response.text[:160]}")
    if not authenticated:
        report.unauthenticated += 1
    if before is not None:
        after = world.snapshot()
        if after != before:
            changed = sorted(t for t in after.keys() | before.keys() if before.get(t) != after.get(t))
            found = f"{description}: changed {', '.join(changed)}"
            (report.unexpected if authenticated else report.unauthenticated_state_changes).append(found)
    return response


def http_fuzz(world: World, keys: dict[str, str], examples: int) -> FuzzReport:
    report = FuzzReport("HTTP endpoints")
    routes = route_methods(world)
    any_method = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data: st.DataObject) -> None:
        if data.draw(st.integers(0, 4)) == 0:  # anything at all
            method = data.draw(any_method)
            path = data.draw(
                st.sampled_from(sorted(routes)) | st.text(max_size=30).map(lambda t: "/" + quote(t))
            )
        else:  # a real route with a method it answers, so the request reaches the handler
            template = data.draw(st.sampled_from(sorted(routes)))
            method, path = data.draw(st.sampled_from(routes[template])), template
        path = fill(path, data.draw)
        headers, query, authenticated = data.draw(credentials(keys))
        if path.startswith("/webhooks/acs/") and data.draw(st.booleans()):
            headers["Authorization"] = f"Bearer {world.jwks.token(ISSUER, AUDIENCE)}"
            authenticated = True
        body = data.draw(bodies) if method not in ("GET", "HEAD") else b""
        send(
            world,
            report,
            authenticated,
            f"{method} {path} {sorted(headers)} {sorted(query)}",
            method=method,
            path=path,
            params=query,
            headers=headers,
            content=body,
        )

    started = time.monotonic()
    run()
    report.seconds = time.monotonic() - started
    return report


def schema_fuzz(world: World, keys: dict[str, str], examples: int) -> FuzzReport:
    """schemathesis cases (valid and invalid per the schema) for every documented operation, as each role and
    without credentials."""
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.core.result import Ok

    report = FuzzReport("OpenAPI operations (schemathesis)")
    document = world.request("GET", "/api/openapi.json", headers={"Authorization": f"Bearer {keys['admin']}"})
    if document.status_code != 200:
        report.server_errors.append(f"no OpenAPI document: {document.status_code}")
        return report
    schema = schemathesis.openapi.from_dict(document.json())
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    strategies = [
        op.as_strategy(generation_mode=mode)
        for op in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    who = st.sampled_from([None, "expired", "forged", *[str(r) for r in Role]])

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(st.one_of(strategies))
        role = data.draw(who)
        headers = {k: str(v) for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        if role == "forged":
            headers["Authorization"] = f"Bearer {forged_jwt(data.draw)}"
        elif role is not None:
            headers["Authorization"] = f"Bearer {keys[role]}"
        authenticated = role not in (None, "expired", "forged")
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        content = kwargs.get("data")
        if "json" in kwargs:
            content = json.dumps(kwargs["json"]).encode()
            headers.setdefault("Content-Type", "application/json")
        send(
            world,
            report,
            authenticated,
            f"{case.method} {case.formatted_path} as {role}",
            method=case.method,
            path=case.formatted_path,
            params=case.query or {},
            headers={k: v for k, v in kwargs.get("headers", headers).items() if isinstance(v, str)},
            content=content if isinstance(content, bytes | str) else None,
        )

    started = time.monotonic()
    run()
    report.seconds = time.monotonic() - started
    return report
