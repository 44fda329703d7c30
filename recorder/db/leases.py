"""The one lease rule of every queue table (outbox, outgoing events, stored recordings), written once: a row
is free when nobody holds it or its holder's lease ran out (the holder crashed); ``claim`` takes it, setting
the lease and counting the attempt, in the same UPDATE whose WHERE says it was free, so two workers never
both take it; ``release`` hands it back for a later attempt (``services/retry.py`` says when)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session


def unleased(table: Any, now: datetime) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = table.claimed_until.is_(None) | (table.claimed_until < now)
    return condition


def lease_values(table: Any, now: datetime, lease: timedelta) -> dict[str, Any]:
    return {"claimed_until": now + lease, "attempts": table.attempts + 1}


def claim(
    session: Session,
    table: Any,
    where: ColumnElement[bool],
    now: datetime,
    lease: timedelta,
    **values: Any,
) -> bool:
    """Lease the row ``where`` names if it is free; True when this call took it. ``values``: more to set in
    the same UPDATE (their right-hand sides read the row as it was before the claim)."""
    result = session.execute(
        update(table).where(where, unleased(table, now)).values(**lease_values(table, now, lease), **values)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def release(
    session: Session, table: Any, where: ColumnElement[bool], available_at: datetime, **values: Any
) -> None:
    """Give the rows back, to be taken again from ``available_at`` (a retry's backoff)."""
    session.execute(
        update(table).where(where).values(available_at=available_at, claimed_until=None, **values)
    )


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
