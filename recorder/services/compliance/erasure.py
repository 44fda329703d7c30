"""A participant's erasure request: their identity leaves the ledger, the calls and the audit trail, while the
audit chain still verifies.

- Ledger rows, participants and calls keep their shape; the raw id becomes ``erased:<first 16 hex of
  sha256(raw id)>`` and the pressed key and free-text reason are cleared.
- Audit entries are append-only, so their content cannot be re-hashed after redaction. Instead an erasure
  entry is appended first, listing every affected entry's seq, hash and the sha256 of its old content; then
  each affected entry's ``data`` becomes a tombstone ``{"erased": true, "erasure_seq": N, ...}`` (the one
  UPDATE the database triggers allow). ``audit_chain.verify`` accepts a tombstone only if the erasure entry
  at N, itself hash-checked, lists it with that hash; the hashes that link the chain never change.
- Nothing is erased while any of the participant's calls is on legal hold: the request is refused whole.
- A number the service holds nothing about (no call, ledger row or audit entry) is refused as unknown: erasing
  it would write that number's pseudonym into the chain for good. ``force`` (admins only, decided by the web)
  erases anyway, and the erasure entry says it was forced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, quote_plus

from recorder.domain import audit_chain
from recorder.services.compliance.records import ErasureUnitOfWork
from recorder.services.errors import Conflict, NotFound


class ErasureRefused(Conflict):
    """The participant's calls are on legal hold; ``details["calls"]`` names them."""


class UnknownParticipant(NotFound):
    """Nothing is held about this participant, so there is nothing to erase (unless forced)."""

    def __init__(self) -> None:
        super().__init__(
            "unknown_participant",
            "the service holds no data for this participant: no call, consent or audit entry names it; "
            'nothing was erased (an admin can force the erasure with "force": true)',
        )


def subject_hash(raw_id: str) -> str:
    return hashlib.sha256(raw_id.encode()).hexdigest()


def erase_participant(
    uow: ErasureUnitOfWork, raw_id: str, actor: str, now: datetime, *, force: bool = False
) -> dict[str, Any]:
    """Erase one participant; the caller commits. Raises ErasureRefused on a legal hold and, unless
    ``force``, UnknownParticipant when nothing names them; either way nothing is written."""
    subject = subject_hash(raw_id)
    pseudonym = f"erased:{subject[:16]}"
    call_ids = _calls_not_on_hold(uow, raw_id)
    ledger_ids = uow.erasure.ledger_rows(raw_id)
    uow.audit.seal_pending()  # entries still pending would escape the tombstones
    listed = [_listed(e) for e in _audit_entries_mentioning(uow, raw_id)]
    if not (call_ids or ledger_ids or listed or force):
        raise UnknownParticipant()
    erasure = {
        "subject_sha256": subject,
        "entries": listed,
        "ledger_rows": ledger_ids,
        "calls": len(call_ids),
        "forced": force,
    }
    erasure_seq = uow.audit.append(actor, audit_chain.ERASURE_ACTION, None, erasure, now)
    for item in listed:
        tombstone = {"erased": True, "erasure_seq": erasure_seq, "content_sha256": item["content_sha256"]}
        uow.audit.tombstone(item["seq"], tombstone)
    uow.erasure.pseudonymise(raw_id, pseudonym)
    uow.erasure.record(subject, actor, now, erasure_seq, ledger_ids, [item["seq"] for item in listed])
    return {
        "subject_sha256": subject,
        "pseudonym": pseudonym,
        "erasure_seq": erasure_seq,
        "ledger_rows": len(ledger_ids),
        "audit_entries": len(listed),
        "calls": len(call_ids),
        "forced": force,
    }


def _calls_not_on_hold(uow: ErasureUnitOfWork, raw_id: str) -> set[str]:
    """The participant's calls; raises ErasureRefused (nothing written) when any is on legal hold."""
    call_ids = uow.erasure.calls_of(raw_id)
    held = sorted(c for c in call_ids if uow.holds.is_on_hold(c))
    if held:
        connections = [uow.calls.connection_of(c) or c for c in held]
        raise ErasureRefused("legal_hold", "calls of this participant are on legal hold", calls=connections)
    return call_ids


def _listed(e: audit_chain.ChainEntry) -> dict[str, Any]:
    content = audit_chain.canonical(e.seq, e.at, e.actor, e.action, e.call_id, e.data)
    return {"seq": e.seq, "hash": e.hash, "content_sha256": hashlib.sha256(content).hexdigest()}


def _audit_entries_mentioning(uow: ErasureUnitOfWork, raw_id: str) -> list[audit_chain.ChainEntry]:
    """Entries whose data names the raw id, as itself or URL-encoded (the query strings of audited reads)."""
    forms = {raw_id, quote(raw_id, safe=""), quote_plus(raw_id)}
    return [
        e
        for e in uow.audit.containing(forms)
        if not audit_chain.is_tombstone(e.data) and any(form in json.dumps(e.data) for form in forms)
    ]


class Erasures:
    def __init__(self, unit_of_work: Callable[[], ErasureUnitOfWork], clock: Callable[[], datetime]) -> None:
        self._uow, self._clock = unit_of_work, clock

    def erase(self, raw_id: str, actor: str, *, force: bool = False) -> dict[str, Any]:
        """Erase a participant in one transaction; nothing written when refused (see erase_participant)."""
        with self._uow() as uow:
            result = erase_participant(uow, raw_id, actor, self._clock(), force=force)
            uow.commit()
        return result
