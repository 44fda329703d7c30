"""One call for the console: its evidence bundle, its story, and whether tampering touches it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from recorder.db.tables.calls import Call
from recorder.domain.model import ConsentPolicy
from recorder.services.compliance.ports import AnchorStore
from recorder.services.queries import audit_view, story
from recorder.services.queries import compliance as cq


def call_view(
    session: Session,
    connection_id: str,
    policy: ConsentPolicy,
    anchors: AnchorStore | None,
    whole_chain: bool,
) -> dict[str, Any] | None:
    """The evidence bundle, the story, and whether this call is affected by tampering; with ``whole_chain``
    (the evidence) also the whole chain's verdict, which reads every entry (the call's page checks only the
    call's own entries and their neighbours)."""
    bundle = cq.evidence_bundle(session, connection_id, policy)
    call_id = session.scalar(select(Call.id).where(Call.call_connection_id == connection_id))
    if bundle is None or call_id is None:
        return None
    verification, broken = None, None
    if whole_chain:
        verification = audit_view.verification(session, anchors).as_json()
        first_bad = verification["first_bad"]
        broken = audit_view.broken_entry(session, first_bad if isinstance(first_bad, int) else None)
    tampering = audit_view.call_tampering(session, bundle["audit_entries"], call_id, broken)
    told = story.story(session, call_id, bundle["ledger"])
    bundle["verification"] = {"this_call": tampering, "chain": verification, "broken_entry": broken}
    return {"bundle": bundle, "story": told, "tampering": tampering, "verification": verification}
