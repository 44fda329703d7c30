"""The audit chain as an officer needs it: where it broke, which call that entry belongs to, whether a given
call's own entries still match their hashes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from recorder.db.repositories.audit import AuditRepository
from recorder.db.tables.audit import AuditEntry
from recorder.db.tables.calls import Call
from recorder.domain import audit_chain
from recorder.services.compliance import anchoring
from recorder.services.compliance.ports import AnchorStore


def verification(session: Session, anchors: AnchorStore | None) -> anchoring.AnchoredVerification:
    """The whole chain's verdict, against the anchors when a store is configured."""
    return anchoring.verify(AuditRepository(session), anchors)


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


def unlinked(session: Session, entries: list[dict[str, Any]]) -> list[int]:
    """The call's entries whose place in the chain is wrong: the entry before one is missing, or its hash is
    not the one this entry names (an entry deleted, inserted or moved next to this call's)."""
    seqs = [e["seq"] for e in entries]
    query = select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.seq.in_([s - 1 for s in seqs if s > 1]))
    before: dict[int, str] = {seq: digest for seq, digest in session.execute(query)}
    before[0] = audit_chain.GENESIS
    return [e["seq"] for e in entries if before.get(e["seq"] - 1) != e["prev_hash"]]


def call_tampering(
    session: Session, entries: list[dict[str, Any]], call_id: str, broken: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Why this call's evidence cannot be trusted, or None: one of its entries no longer matches its hash or
    its place in the chain, or (when the whole chain was verified: ``broken``) the chain breaks at one of its
    entries. ``entries`` are the evidence bundle's audit entries. Reads only the call's entries and their
    neighbours, so a call's page stays quick however long the chain."""
    mismatched = [e["seq"] for e in entries if e["hash_matches"] is False]
    misplaced = unlinked(session, entries)
    at_this_call = broken is not None and broken["call_id"] == call_id
    if not mismatched and not misplaced and not at_this_call:
        return None
    first_bad = broken["seq"] if at_this_call and broken else min([*mismatched, *misplaced])
    return {"mismatched": mismatched, "misplaced": misplaced, "first_bad": first_bad}
