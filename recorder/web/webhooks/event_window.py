"""Replay defence by event time: refuse events stamped too long ago, or too far in the future.

Event ids are de-duplicated by the inbox; this window bounds how old a captured delivery can be when it is
replayed (after inbox rows are gone, or with a fresh id). An event without a time is let through (the inbox
still applies): the CloudEvents spec makes ``time`` optional. A time that is not ISO 8601 is a 400.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from recorder.config.security import EventWindow
from recorder.web.webhooks.parsing import BadEvent, Envelope, event_time

__all__ = ["check_window", "event_time"]

INCOMING_CALL = "Microsoft.Communication.IncomingCall"


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
