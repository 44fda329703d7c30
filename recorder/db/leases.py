"""The one lease rule of every queue table (outbox, outgoing events, stored recordings): a row is free when
nobody holds it or its holder's lease ran out (the holder crashed); taking it sets the lease and counts the
attempt, in the same UPDATE whose WHERE says it was free, so two workers never both take it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session


def unleased(table: Any, now: datetime) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = table.claimed_until.is_(None) | (table.claimed_until < now)
    return condition


def backlog(session: Session, table: Any, now: datetime) -> tuple[int, float]:
    """How many rows are pending, and the age in seconds of the oldest (readiness, metrics, operators)."""
    depth, oldest = session.execute(
        select(func.count(), func.min(table.created_at)).where(table.status == "pending")
    ).one()
    if oldest is None:
        return int(depth), 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return int(depth), max(0.0, (now - oldest).total_seconds())


def lease_values(table: Any, now: datetime, lease: timedelta) -> dict[str, Any]:
    return {"claimed_until": now + lease, "attempts": table.attempts + 1}
