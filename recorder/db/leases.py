"""The one lease rule of every queue table (outbox, outgoing events, stored recordings): a row is free when
nobody holds it or its holder's lease ran out (the holder crashed); taking it sets the lease and counts the
attempt, in the same UPDATE whose WHERE says it was free, so two workers never both take it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement


def unleased(table: Any, now: datetime) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = table.claimed_until.is_(None) | (table.claimed_until < now)
    return condition


def lease_values(table: Any, now: datetime, lease: timedelta) -> dict[str, Any]:
    return {"claimed_until": now + lease, "attempts": table.attempts + 1}
