"""Unconsented exposure: how long ACS reported recording while someone present had not consented. Pure.

Inputs are what ACS reported, by ACS's own event times: recording state changes (the segments) and the
participant lists (presence, ``db/tables/presence.py``); consent comes from the ledger (a grant or an
exemption consents; a decline, no response or a withdrawal does not, nor does nothing yet). A person is
exposed while present, not consenting and recorded. The call's own identities are not people and never count.

The ledger's decision times are when the service learnt the answer, a few ms after ACS heard it: a grant
ends exposure a little late (the figure errs high), a withdrawal starts it a little late (it errs low by the
same callback delay).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

RECORDING_ON = {"started": True, "resumed": True, "paused": False, "stopped": False}
CONSENTING = frozenset({"granted", "exempt"})


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime

    @property
    def ms(self) -> float:
        return (self.end - self.start).total_seconds() * 1000


def spans(changes: Iterable[tuple[datetime, bool]], end: datetime) -> list[Span]:
    """On/off changes (in any order) as the spans when on; one still on at ``end`` ends there."""
    result: list[Span] = []
    since: datetime | None = None
    for at, on in sorted(changes, key=lambda change: change[0]):
        if on and since is None:
            since = at
        elif not on and since is not None:
            result.append(Span(since, at))
            since = None
    if since is not None and end > since:
        result.append(Span(since, end))
    return [s for s in result if s.end > s.start]


def intersect(first: Sequence[Span], second: Sequence[Span]) -> list[Span]:
    found = [
        Span(max(a.start, b.start), min(a.end, b.end))
        for a in first
        for b in second
        if max(a.start, b.start) < min(a.end, b.end)
    ]
    return union(found)


def subtract(first: Sequence[Span], second: Sequence[Span]) -> list[Span]:
    """``first`` without any moment of ``second``."""
    result = list(first)
    for cut in second:
        result = [
            piece
            for s in result
            for piece in (Span(s.start, min(s.end, cut.start)), Span(max(s.start, cut.end), s.end))
            if piece.end > piece.start
        ]
    return result


def union(items: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for s in sorted(items, key=lambda span: span.start):
        if merged and s.start <= merged[-1].end:
            merged[-1] = Span(merged[-1].start, max(merged[-1].end, s.end))
        else:
            merged.append(s)
    return merged


def total_ms(items: Iterable[Span]) -> float:
    return sum(s.ms for s in items)


@dataclass(frozen=True)
class Exposure:
    """Per participant, the spans recorded without their consent; ``spans`` is when anyone was."""

    participants: Mapping[str, list[Span]] = field(default_factory=dict)

    @property
    def spans(self) -> list[Span]:
        return union(s for found in self.participants.values() for s in found)

    @property
    def total_ms(self) -> float:
        return total_ms(self.spans)

    def ms_of(self, raw_id: str) -> float:
        return total_ms(self.participants.get(raw_id, ()))

    def as_json(self) -> dict[str, object]:
        return {
            "total_ms": round(self.total_ms),
            "participants": {raw_id: round(total_ms(found)) for raw_id, found in self.participants.items()},
            "intervals": [
                {"start": s.start.isoformat(), "end": s.end.isoformat(), "ms": round(s.ms, 3)}
                for s in self.spans
            ],
        }


def recording_spans(segments: Iterable[tuple[datetime, str]], end: datetime) -> list[Span]:
    return spans(((at, RECORDING_ON[kind]) for at, kind in segments if kind in RECORDING_ON), end)


def consent_spans(decisions: Iterable[tuple[datetime, str]], end: datetime) -> list[Span]:
    return spans(((at, outcome in CONSENTING) for at, outcome in decisions), end)


def compute(
    presence: Mapping[str, Sequence[tuple[datetime, bool]]],
    decisions: Mapping[str, Sequence[tuple[datetime, str]]],
    segments: Sequence[tuple[datetime, str]],
    end: datetime,
) -> Exposure:
    """``presence`` and ``decisions`` by raw id (people only, not the service's own identities)."""
    recorded = recording_spans(segments, end)
    found = {}
    for raw_id, changes in presence.items():
        unconsented = subtract(spans(changes, end), consent_spans(decisions.get(raw_id, ()), end))
        found[raw_id] = intersect(unconsented, recorded)
    return Exposure(found)
