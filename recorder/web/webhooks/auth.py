"""Who sent a webhook, and whether its body may act where it was sent: Event Grid's Entra ID token must be
issued to Event Grid itself; ACS's callback JWT must verify; each callback event must name the call its URL
names, and a token (by ``jti``) or event id seen on one call is not accepted for another within a short
window. "Could not verify right now" (signing keys unreachable) is a 503, which both senders retry; a 401
would lose the event (Event Grid does not retry it, ACS does not redeliver).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from recorder.adapters.callback_auth import CallbackAuthError, KeysUnavailable
from recorder.bootstrap import Container
from recorder.config.security import EventGridEntra
from recorder.observability import metrics
from recorder.web.responses import error
from recorder.web.webhooks.parsing import CallbackEvent

log = logging.getLogger("recorder.webhooks")
RETRY_AFTER_SECONDS = 5
REPLAY_WINDOW_SECONDS = 600  # longer than an ACS callback token lives (5 minutes)


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


def callback_problem(
    container: Container,
    window: ReplayWindow,
    claims: dict[str, Any],
    call_id: str,
    events: Sequence[CallbackEvent],
) -> Response | None:
    """A 403 when the events do not belong to the call in the URL, or replay a token or event id."""
    connection_id = container.calls.connection_of(call_id)
    # a call still being answered has no connection id yet: its first callbacks may arrive before the answer
    foreign = [e.id for e in events if connection_id is not None and e.call_connection_id != connection_id]
    if foreign:
        log.warning("webhook.call_mismatch", extra={"call_id": call_id, "event_ids": foreign[:5]})
        return error(403, "call_mismatch", "the events are for another call than this callback URL's")
    replay = window.problem(claims, call_id, [e.id for e in events])
    if replay is not None:
        log.warning("webhook.replayed", extra={"call_id": call_id})
        return error(403, "replayed", replay)
    return None
