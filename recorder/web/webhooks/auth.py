"""Who sent a webhook, and whether its body may act where it was sent: Event Grid's Entra ID token must be
issued to Event Grid itself; ACS's callback JWT must verify; every event's time must fall in the event
window; a token (by ``jti``) or event id seen on one call is not accepted for another within a short window
(that each callback event names the call its URL names, the call service checks: ``apply_callbacks``).
"Could not verify right now" (signing keys unreachable) is a 503, which both senders retry; a 401 would lose
the event (Event Grid does not retry it, ACS does not redeliver).

The event window is the replay defence by event time: events stamped too long ago, or too far in the future,
are refused. Event ids are de-duplicated by the inbox; the window bounds how old a captured delivery can be
when it is replayed (after inbox rows are gone, or with a fresh id). An event without a time is let through
(the inbox still applies): the CloudEvents spec makes ``time`` optional. A time that is not ISO 8601 is a 400.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from recorder.adapters.callback_auth import CallbackAuthError, KeysUnavailable
from recorder.bootstrap import Container
from recorder.config.security import EventGridEntra, EventWindow
from recorder.observability import metrics
from recorder.web.responses import BodyTooLarge, error, read_body
from recorder.web.webhooks.parsing import (
    BadEvent,
    CallbackEvent,
    Envelope,
    callback_events,
    envelopes,
    event_time,
    load_json,
)

log = logging.getLogger("recorder.webhooks")
RETRY_AFTER_SECONDS = 5
REPLAY_WINDOW_SECONDS = 600  # longer than an ACS callback token lives (5 minutes)
INCOMING_CALL = "Microsoft.Communication.IncomingCall"
MAX_BATCH = 100  # events per delivery


def cannot_verify(channel: str) -> Response:
    log.warning("webhook.auth_unavailable", extra={"channel": channel})
    response = error(503, "auth_unavailable", "the sender cannot be verified right now; retry")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def refused(channel: str, reason: str, message: str) -> Response:
    log.warning("webhook.auth_failed", extra={"channel": channel, "reason": reason})
    metrics.AUTH_FAILURES.labels(channel).inc()
    return error(401, "unauthorized", message)


def issued_to_event_grid(claims: dict[str, Any], entra: EventGridEntra) -> bool:
    """Event Grid's own app id in ``appid`` (v1 tokens) or ``azp`` (v2), or the configured app role."""
    issued_to = claims.get("appid") or claims.get("azp")
    roles = claims.get("roles")
    has_role = entra.role is not None and isinstance(roles, list) and entra.role in roles
    return issued_to in entra.app_ids or has_role


async def eventgrid_entra(container: Container, request: Request) -> Response | None:
    """None when the delivery may go on (no Entra configured, or a valid token from Event Grid)."""
    verifier, entra = container.eventgrid_verifier, container.settings.security.eventgrid_entra
    if verifier is None or entra is None:
        return None
    try:
        claims = await run_in_threadpool(verifier.verify, request.headers.get("authorization"))
    except KeysUnavailable:
        return cannot_verify("eventgrid")
    except CallbackAuthError as exc:
        return refused("eventgrid", f"entra: {exc}", "a valid Entra ID bearer token is required")
    if not issued_to_event_grid(claims, entra):
        return refused("eventgrid", "entra: not Event Grid", "the token was not issued to Event Grid")
    return None


async def acs_claims(container: Container, request: Request) -> dict[str, Any] | Response:
    """The callback token's claims, or the answer refusing it."""
    try:
        claims: dict[str, Any] = await run_in_threadpool(
            container.verifier.verify, request.headers.get("authorization")
        )
    except KeysUnavailable:
        return cannot_verify("acs")
    except CallbackAuthError as exc:
        return refused("acs", str(exc), "callback token rejected")
    return claims


@dataclass(frozen=True)
class AdmittedCallback:
    """An ACS callback delivery whose sender and event times check out, parsed; ``replays`` is the check the
    call service runs once it has bound the events to the call of the URL."""

    events: list[CallbackEvent]
    payload: Any
    replays: Callable[[], str | None]


async def admit_acs(container: Container, request: Request, call_id: str) -> AdmittedCallback | Response:
    """Verify the callback's token, read and parse its body, check every event's time; or the refusal."""
    claims = await acs_claims(container, request)
    if isinstance(claims, Response):
        return claims
    try:
        payload = load_json(await read_body(request))
        window = container.settings.security.event_window
        check_window(envelopes(payload, MAX_BATCH), container.clock(), window)
        events = callback_events(payload, container.clock(), MAX_BATCH)
    except (BodyTooLarge, BadEvent) as exc:
        return unreadable("acs", exc)
    replays = replay_check(request.app.state.replay_window, claims, call_id, [e.id for e in events])
    return AdmittedCallback(events, payload, replays)


def unreadable(channel: str, exc: BodyTooLarge | BadEvent) -> Response:
    """The answer to a delivery that is too large (413) or does not parse (400), counted as rejected."""
    metrics.event_received(channel, "unparsed", "rejected")
    if isinstance(exc, BodyTooLarge):
        return error(413, "body_too_large", "the delivery is too large")
    return error(400, exc.code, str(exc))


class ReplayWindow:
    """In this process, for REPLAY_WINDOW_SECONDS: which call each token ``jti`` and event id came for.
    A token with a ``jti`` carries one delivery (the same event ids again is a retry, anything else a
    replay); an event id belongs to one call. Bounded: the oldest entries go first."""

    def __init__(self, max_entries: int = 200_000, clock: Any = time.monotonic) -> None:
        self._seen: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()

    def problem(self, claims: dict[str, Any], call_id: str, event_ids: Sequence[str]) -> str | None:
        now = self._clock()
        jti = claims.get("jti")
        marks = {f"event:{e}": call_id for e in event_ids}
        if isinstance(jti, str) and jti:
            marks[f"jti:{jti}"] = f"{call_id}|{'|'.join(sorted(event_ids))}"
        with self._lock:
            self._forget_old(now)
            for mark, owner in marks.items():
                seen = self._seen.get(mark)
                if seen is not None and seen[1] != owner:
                    return "this token or event was already delivered for another call or events"
            for mark, owner in marks.items():
                self._seen[mark] = (now, owner)
                self._seen.move_to_end(mark)
            while len(self._seen) > self._max:
                self._seen.popitem(last=False)
        return None

    def _forget_old(self, now: float) -> None:
        while self._seen:
            mark, (at, _) = next(iter(self._seen.items()))
            if now - at < REPLAY_WINDOW_SECONDS:
                return
            del self._seen[mark]


def check_window(envelopes: Iterable[Envelope], now: datetime, window: EventWindow) -> None:
    """Raises ``BadEvent`` (a 400, which Event Grid does not retry) for the first event outside the window."""
    for envelope in envelopes:
        moment = event_time(envelope)
        if moment is None:
            continue
        minutes = (
            window.incoming_call_max_age_minutes if envelope.type == INCOMING_CALL else window.max_age_minutes
        )
        if moment < now - timedelta(minutes=minutes):
            raise BadEvent("stale_event", f"event {envelope.id} is older than {minutes} minutes")
        if moment > now + timedelta(seconds=window.future_skew_seconds):
            raise BadEvent("future_event", f"event {envelope.id} is stamped in the future")


def replay_check(
    window: ReplayWindow, claims: dict[str, Any], call_id: str, event_ids: Sequence[str]
) -> Callable[[], str | None]:
    """The admission check the call service runs once the events are bound to the call: None, or why the
    token or an event id was already delivered for another call."""

    def check() -> str | None:
        replay = window.problem(claims, call_id, event_ids)
        if replay is not None:
            log.warning("webhook.replayed", extra={"call_id": call_id})
        return replay

    return check
