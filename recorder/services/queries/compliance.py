"""Read models for compliance officers beyond the ledger page: call search, streaming export, evidence."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from recorder.db.repositories.holds import HoldRepository
from recorder.db.tables.audit import AuditEntry
from recorder.db.tables.calls import Call, CallParticipant, ConsentEntry, RecordingSegment
from recorder.domain import audit_chain
from recorder.domain.model import ConsentPolicy
from recorder.services.compliance import holds
from recorder.services.queries import calls_view, story
from recorder.services.queries import ledger as queries
from recorder.services.queries.ledger import LEDGER_FIELDS, BadQuery, LedgerFilter, ledger_conditions
from recorder.services.queries.numbers import ParticipantQuery

EXPORT_BATCH = 5000


@dataclass(frozen=True)
class CallFilter:
    since: datetime | None = None
    until: datetime | None = None
    participant: str | None = None
    outcome: str | None = None
    recorded: bool | None = None
    region: str | None = None
    legal_hold: bool | None = None


def _encode_call_cursor(created_at: datetime, call_id: str) -> str:
    return base64.urlsafe_b64encode(f"c1|{created_at.isoformat()}|{call_id}".encode()).decode().rstrip("=")


def decode_call_cursor(cursor: str) -> tuple[datetime, str]:
    parts = queries.cursor_text(cursor).split("|")
    try:
        if len(parts) != 3 or parts[0] != "c1" or not 0 < len(parts[2]) <= 64:
            raise ValueError(parts[0])
        created = datetime.fromisoformat(parts[1])
        if created.tzinfo is None:
            raise ValueError("naive")
    except ValueError:
        raise BadQuery("cursor is not one this service issued") from None
    return queries.in_stored_range(created, "cursor"), parts[2]


def search_calls(session: Session, f: CallFilter, cursor: str | None, limit: int) -> dict[str, Any]:
    """Calls oldest first (created_at, id), filtered; the cursor is the last (created_at, id) seen."""
    started = exists().where(RecordingSegment.call_id == Call.id, RecordingSegment.kind == "started")
    query = select(Call, started.label("recorded")).order_by(Call.created_at, Call.id).limit(limit + 1)
    exact = None if f.participant is None else ParticipantQuery(f.participant, None)
    shared = calls_view.CallsFilter(
        f.since, f.until, exact, f.outcome, f.recorded, region=f.region, legal_hold=f.legal_hold
    )
    query = query.where(*calls_view.conditions(shared))
    if cursor:
        created, call_id = decode_call_cursor(cursor)
        query = query.where(
            or_(Call.created_at > created, and_(Call.created_at == created, Call.id > call_id))
        )
    rows = session.execute(query).all()
    page = rows[:limit]
    ids = [call.id for call, _ in page]
    people: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        for call_id, raw_id in session.execute(
            select(CallParticipant.call_id, CallParticipant.raw_id)
            .where(CallParticipant.call_id.in_(ids))
            .order_by(CallParticipant.id)
        ):
            people[call_id].append(raw_id)
    items = [
        {
            "call_connection_id": call.call_connection_id,
            "server_call_id": call.server_call_id,
            "direction": call.direction,
            "phase": call.phase,
            "recorded": bool(recorded),
            "participants": people[call.id],
            "created_at": call.created_at.isoformat(),
            "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        }
        for call, recorded in page
    ]
    last = page[-1][0] if page else None
    more = len(rows) > limit and last is not None
    return {"items": items, "next": _encode_call_cursor(last.created_at, last.id) if more and last else None}


EXPORT_FIELDS = (*LEDGER_FIELDS, "exposure_ms")


def _ledger_query(f: LedgerFilter) -> Select[Any]:
    columns = [ConsentEntry.__table__.c[name] for name in LEDGER_FIELDS]
    query = select(*columns, ConsentEntry.call_id).where(*ledger_conditions(f))
    return query.order_by(ConsentEntry.id)


def _with_exposure(engine: Engine, rows: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Each row's last column (its call id) replaced by that participant's exposure in that call, in ms."""
    with Session(engine) as session:
        found = story.exposures(session, {row[-1] for row in rows})
    participant = LEDGER_FIELDS.index("participant")
    return [(*row[:-1], _ms(found.get(row[-1]), row[participant])) for row in rows]


def _ms(found: Any, participant: str) -> int | None:
    return None if found is None else round(found.ms_of(participant))


def ledger_batches(engine: Engine, f: LedgerFilter, batch: int = EXPORT_BATCH) -> Iterator[Sequence[Any]]:
    """The filtered ledger in id order, ``batch`` rows at a time, never all in memory.

    PostgreSQL: one server-side cursor in a REPEATABLE READ snapshot. SQLite: keyset pages, each in its own
    short transaction, so a long export never holds SQLite's single write lock for its whole duration.
    """
    query = _ledger_query(f)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            streaming = connection.execution_options(
                isolation_level="REPEATABLE READ", stream_results=True, max_row_buffer=batch
            )
            for rows in streaming.execute(query).partitions(batch):
                yield _with_exposure(engine, rows)
        return
    last_id = 0
    while True:
        with engine.connect() as connection:
            rows = connection.execute(query.where(ConsentEntry.id > last_id).limit(batch)).all()
        if not rows:
            return
        yield _with_exposure(engine, rows)
        last_id = rows[-1][0]


_TIME_COLUMNS = [LEDGER_FIELDS.index(name) for name in ("prompted_at", "decided_at")]


def _row(row: Sequence[Any]) -> list[Any]:
    cells = list(row)
    for i in _TIME_COLUMNS:
        if cells[i] is not None:
            cells[i] = cells[i].isoformat()
    return cells


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """OWASP's CSV-injection rule: a text cell a spreadsheet would read as a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def export_csv(batches: Iterator[Sequence[Any]]) -> Iterator[str]:
    """RFC 4180 CSV (CRLF, so a cell holding CR or LF is quoted) with every cell spreadsheet-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_FIELDS)
    for rows in batches:
        writer.writerows([spreadsheet_safe(cell) for cell in _row(row)] for row in rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def export_jsonl(batches: Iterator[Sequence[Any]]) -> Iterator[str]:
    for rows in batches:
        yield "".join(json.dumps(dict(zip(EXPORT_FIELDS, _row(row), strict=True))) + "\n" for row in rows)


def evidence_bundle(
    session: Session, call_connection_id: str, policy: ConsentPolicy
) -> dict[str, Any] | None:
    """Everything an auditor needs to show what happened on one call, and to check it against the chain."""
    timeline = queries.call_timeline(session, call_connection_id)
    if timeline is None:
        return None
    call_id = session.scalar(select(Call.id).where(Call.call_connection_id == call_connection_id))
    assert call_id is not None
    entries = [
        _evidence_entry(e)
        for e in session.scalars(
            select(AuditEntry).where(AuditEntry.call_id == call_id).order_by(AuditEntry.seq)
        )
    ]
    head = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc())).first()
    return {
        "call": {k: v for k, v in timeline.items() if k not in ("audit", "consents")},
        "ledger": timeline["consents"],
        "prompts": _prompts_played(timeline["consents"], policy),
        "exposure": timeline["exposure"],
        "recording_segments": timeline["recording_segments"],
        "stored_recordings": timeline["stored_recordings"],
        "legal_holds": holds.holds_of(HoldRepository(session), call_id),
        "audit_entries": entries,
        "chain": {
            "head_seq": head[0] if head else 0,
            "head_hash": head[1] if head else audit_chain.GENESIS,
            "hash_rule": "hash = sha256(ascii(prev_hash) + canonical), canonical = JSON of "
            "{seq, at, actor, action, call_id, data} with sorted keys, separators (',', ':'), UTF-8",
            "verify_with": "GET /api/audit/verify (the whole chain, and its external anchors)",
        },
    }


def _prompts_played(consents: list[dict[str, Any]], policy: ConsentPolicy) -> list[dict[str, Any]]:
    """Each prompt version the ledger names, with its text or audio when the policy still has it."""
    texts = {p.sha256: p for p in policy.prompts.values()}
    prompts = {
        (c["prompt_id"], c["prompt_version"], c["locale"], c["prompt_sha256"])
        for c in consents
        if c["prompt_sha256"]
    }
    return [
        {
            "prompt_id": pid,
            "prompt_version": version,
            "locale": locale,
            "sha256": digest,
            "text": texts[digest].text if digest in texts else None,
            "audio_url": texts[digest].audio_url if digest in texts else None,
        }
        for pid, version, locale, digest in sorted(prompts, key=str)
    ]


def _evidence_entry(e: AuditEntry) -> dict[str, Any]:
    content = audit_chain.canonical(e.seq, e.at, e.actor, e.action, e.call_id, e.data)
    erased = audit_chain.is_tombstone(e.data)
    return {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "action": e.action,
        "data": e.data,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
        "canonical": None if erased else content.decode(),
        "hash_matches": None if erased else audit_chain.entry_hash(e.prev_hash, content) == e.hash,
    }
