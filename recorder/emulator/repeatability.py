"""Repeatable requests (OASIS Repeatable Requests 1.0, as ACS documents them for its other APIs).

SDK 1.6.0 sends ``Repeatability-Request-ID`` and ``Repeatability-First-Sent`` only on the operations whose
generated request builders add them (``_generated/operations/_operations.py``): create, answer, redirect,
reject, connect, terminate, transfer, add/remove/mute participant, cancel add participant, move participants,
send DTMF and start recording. With ``repeatability = "sdk_operations"`` (the default) only those are
de-duplicated; any other operation sent twice runs twice. A request seen before is answered with the first
answer within ``repeatability_window_s`` (ACS tracks 5 minutes); a first-sent time outside the window gets
412; malformed headers 400; the same id with another body (or, with ``repeatability_match_first_sent``,
another first-sent time) 400.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from recorder.emulator.behaviour import Behaviour
from recorder.emulator.rest import AcsError, Reply
from recorder.emulator.state import CachedReply

REPEATABLE_OPERATIONS = frozenset(
    {
        "create_call",
        "answer_call",
        "redirect_call",
        "reject_call",
        "connect_call",
        "terminate_call",
        "transfer_call",
        "add_participant",
        "remove_participant",
        "mute_participant",
        "cancel_add_participant",
        "move_participants",
        "send_dtmf_tones",
        "start_recording",
    }
)


def applies(behaviour: Behaviour, operation: str, method: str) -> bool:
    if behaviour.repeatability == "none" or method == "GET":
        return False
    return behaviour.repeatability == "all" or operation in REPEATABLE_OPERATIONS


class Repeatability:
    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], CachedReply] = {}

    def replay(
        self, behaviour: Behaviour, operation: str, request_id: str, first_sent: str | None, body: bytes
    ) -> CachedReply | None:
        """The first answer to this request, or None when it is new; AcsError when ACS would refuse it."""
        _check_id(request_id)
        if first_sent is None and behaviour.repeatability == "sdk_operations":
            raise AcsError(400, "8523", "Repeatability-First-Sent is required with Repeatability-Request-ID.")
        sent_at = _check_first_sent(first_sent, behaviour.repeatability_window_s) if first_sent else None
        cached = self.replies.get((operation, request_id))
        if cached is None or time.monotonic() - cached.at > behaviour.repeatability_window_s:
            return None
        if cached.fingerprint != _fingerprint(body):
            raise AcsError(400, "8523", "Repeatability-Request-ID was used before for another request.")
        if behaviour.repeatability_match_first_sent and cached.first_sent != sent_at:
            raise AcsError(400, "8523", "Repeatability-First-Sent does not match the first request.")
        return cached

    def remember(
        self,
        operation: str,
        request_id: str,
        first_sent: str | None,
        body: bytes,
        reply: Reply,
        server_call_id: str | None,
    ) -> None:
        sent_at = _parse_date(first_sent) if first_sent else None
        cached = CachedReply(
            reply.status, reply.body, server_call_id, fingerprint=_fingerprint(body), first_sent=sent_at
        )
        self.replies[(operation, request_id)] = cached


def _fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _check_id(request_id: str) -> None:
    try:
        uuid.UUID(request_id)
    except ValueError:
        raise AcsError(400, "8523", "Repeatability-Request-ID must be a GUID.") from None


def _check_first_sent(value: str, window_s: float) -> datetime:
    sent = _parse_date(value)
    if sent is None:
        raise AcsError(400, "8523", "Repeatability-First-Sent must be an IMF-fixdate.")
    if (datetime.now(UTC) - sent).total_seconds() > window_s:
        raise AcsError(412, "8583", "Repeatability-First-Sent is outside the tracked window.")
    return sent


def _parse_date(value: str) -> datetime | None:
    try:
        sent = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return sent if sent.tzinfo is not None else sent.replace(tzinfo=UTC)
