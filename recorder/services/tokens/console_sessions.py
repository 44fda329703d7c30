"""Server-side console sessions: the cookie holds a random token (never the API key), the database only its
SHA-256. A session ends after IDLE without a request, after LIFETIME whatever the activity, on sign-out, and
as soon as its API key is revoked or expires."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from recorder.services.tokens.api_keys import Principal, Role, key_state
from recorder.services.tokens.records import ConsoleSessionRecords, SessionsUnitOfWork

IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=8)
TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most this often


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(token: str) -> str:
    """The session's CSRF token: derived from its secret, so another site cannot know it."""
    return hashlib.sha256(f"console-csrf:{token}".encode()).hexdigest()


def open_session(records: ConsoleSessionRecords, key_id: str, now: datetime) -> str:
    """A new session for ``key_id``; returns the token for the cookie (stored only as a hash)."""
    token = secrets.token_urlsafe(32)
    records.open(_digest(token), key_id, now, now + LIFETIME)
    return token


def resume(records: ConsoleSessionRecords, token: str, now: datetime) -> tuple[Principal | None, bool]:
    """The principal of a live session, or None; and whether its idle clock was restarted (to commit)."""
    if not token or len(token) > 128:
        return None, False
    row = records.get(_digest(token))
    if row is None or row.revoked_at is not None or now >= row.expires_at or now - row.last_seen_at >= IDLE:
        return None, False
    key = records.key(row.key_id)
    if key is None or key_state(key, now) != "active":
        return None, False
    touched = now - row.last_seen_at >= TOUCH_EVERY
    if touched:
        records.touch(_digest(token), now)
    return Principal(key.id, key.name, Role(key.role)), touched


class ConsoleSessions:
    """The console's sign-in sessions: opened for a key, resumed per request, ended on sign-out."""

    def __init__(self, unit_of_work: Callable[[], SessionsUnitOfWork], clock: Callable[[], datetime]) -> None:
        self._uow, self._clock = unit_of_work, clock

    def open(self, key_id: str) -> str:
        with self._uow() as uow:
            token = open_session(uow.console_sessions, key_id, self._clock())
            uow.commit()
        return token

    def resume(self, token: str) -> Principal | None:
        with self._uow() as uow:
            principal, touched = resume(uow.console_sessions, token, self._clock())
            if touched:
                uow.commit()
        return principal

    def end(self, token: str) -> None:
        """Sign-out: the token stops working at once, wherever it was copied to."""
        with self._uow() as uow:
            uow.console_sessions.end(_digest(token), self._clock())
            uow.commit()
