"""Server-side console sessions: the cookie holds a random token (never the API key), the database only its
SHA-256. A session ends after IDLE without a request, after LIFETIME whatever the activity, on sign-out, and
as soon as its API key is revoked or expires."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from recorder.db.tables.access import ApiKey, ConsoleSession
from recorder.db.unit_of_work import UnitOfWork
from recorder.services.tokens.api_keys import Principal, Role, key_state

IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=8)
TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most this often


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(token: str) -> str:
    """The session's CSRF token: derived from its secret, so another site cannot know it."""
    return hashlib.sha256(f"console-csrf:{token}".encode()).hexdigest()


def open_session(session: Session, key_id: str, now: datetime) -> str:
    """A new session for ``key_id``; returns the token for the cookie (stored only as a hash)."""
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            id=_digest(token), key_id=key_id, created_at=now, last_seen_at=now, expires_at=now + LIFETIME
        )
    )
    return token


def resume(session: Session, token: str, now: datetime) -> Principal | None:
    """The principal of a live session (and its idle clock restarted), or None."""
    if not token or len(token) > 128:
        return None
    row = session.get(ConsoleSession, _digest(token))
    if row is None or row.revoked_at is not None or now >= row.expires_at or now - row.last_seen_at >= IDLE:
        return None
    key = session.get(ApiKey, row.key_id)
    if key is None or key_state(key, now) != "active":
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.commit()
    return Principal(key.id, key.name, Role(key.role))


def end(session: Session, token: str, now: datetime) -> None:
    """Sign-out: the token stops working at once, wherever it was copied to."""
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == _digest(token), ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.commit()


class ConsoleSessions:
    """The console's sign-in sessions: opened for a key, resumed per request, ended on sign-out."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Callable[[], datetime]) -> None:
        self._uow, self._clock = unit_of_work, clock

    def open(self, key_id: str) -> str:
        with self._uow() as uow:
            token = open_session(uow.session, key_id, self._clock())
            uow.commit()
        return token

    def resume(self, token: str) -> Principal | None:
        with self._uow() as uow:
            return resume(uow.session, token, self._clock())

    def end(self, token: str) -> None:
        with self._uow() as uow:
            end(uow.session, token, self._clock())
