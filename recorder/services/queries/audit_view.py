"""The audit chain as an officer needs it: where it broke, which call that entry belongs to, whether a given
call's own entries still match their hashes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from recorder.db.tables.audit import AuditEntry
from recorder.db.tables.calls import Call


def broken_entry(session: Session, first_bad: int | None) -> dict[str, Any] | None:
    """The entry the chain breaks at (the next one after a deleted row), and the call it belongs to."""
    if first_bad is None:
        return None
    row = session.execute(
        select(AuditEntry.seq, AuditEntry.action, AuditEntry.call_id, Call.call_connection_id)
        .outerjoin(Call, Call.id == AuditEntry.call_id)
        .where(AuditEntry.seq >= first_bad)
        .order_by(AuditEntry.seq)
        .limit(1)
    ).first()
    if row is None:  # the chain's last entries were deleted
        return {"seq": first_bad, "missing": True, "action": None, "call_id": None, "call_connection_id": ""}
    seq, action, call_id, connection = row
    return {
        "seq": seq,
        "missing": seq != first_bad,  # the entry at first_bad was deleted: this is the next one
        "action": action,
        "call_id": call_id,
        "call_connection_id": connection,
    }


def call_tampering(
    entries: list[dict[str, Any]], call_id: str, broken: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Why this call's evidence cannot be trusted, or None: one of its entries no longer matches its hash,
    or the chain breaks at one of its entries. ``entries`` are the evidence bundle's audit entries."""
    mismatched = [e["seq"] for e in entries if e["hash_matches"] is False]
    at_this_call = broken is not None and broken["call_id"] == call_id
    if not mismatched and not at_this_call:
        return None
    return {"mismatched": mismatched, "first_bad": broken["seq"] if broken else None}
