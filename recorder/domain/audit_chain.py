"""The audit trail's hash chain: each entry's hash covers the previous hash and its own canonical JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    call_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


def canonical(seq: int, at: datetime, actor: str, action: str, call_id: str | None, data: Any) -> bytes:
    body = {
        "seq": seq,
        "at": at.isoformat(),
        "actor": actor,
        "action": action,
        "call_id": call_id,
        "data": data,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + content).hexdigest()


def link(
    prev_hash: str, seq: int, at: datetime, actor: str, action: str, call_id: str | None, data: dict[str, Any]
) -> ChainEntry:
    """The entry at ``seq`` after the one whose hash is ``prev_hash``, with its own hash."""
    digest = entry_hash(prev_hash, canonical(seq, at, actor, action, call_id, data))
    return ChainEntry(seq, at, actor, action, call_id, data, prev_hash, digest)


ERASURE_ACTION = "participant.erased"


def is_tombstone(data: Any) -> bool:
    """An entry whose personal data was erased: its ``data`` holds only hashes and the erasure's seq."""
    return isinstance(data, dict) and data.get("erased") is True


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head: str
    first_bad: int | None
    anchors_checked: int = 0


def verify(entries: Iterable[ChainEntry], anchors: Mapping[int, str] | None = None) -> Verification:
    """Recompute the chain; name the first entry whose link, hash, position or anchor is wrong.

    A tombstoned entry cannot be rehashed (its content is gone); it is accepted only when a later erasure
    entry, itself hash-checked, lists that seq with that hash. ``anchors`` maps seq to the hash that was
    written to external storage at the time: a mismatch, or an anchored seq beyond the end, is a rewrite.
    """
    anchors = anchors or {}
    prev, count, expected_seq = GENESIS, 0, 1
    bad: int | None = None
    unconfirmed: dict[int, tuple[str, int]] = {}  # tombstone seq -> (its hash, the erasure entry's seq)
    checked = 0
    for e in entries:
        count += 1
        if e.seq != expected_seq or e.prev_hash != prev:
            bad = expected_seq
            break
        if is_tombstone(e.data):
            erasure_seq = e.data.get("erasure_seq")
            if not isinstance(erasure_seq, int) or erasure_seq <= e.seq:
                bad = e.seq
                break
            unconfirmed[e.seq] = (e.hash, erasure_seq)
        elif entry_hash(prev, canonical(e.seq, e.at, e.actor, e.action, e.call_id, e.data)) != e.hash:
            bad = e.seq
            break
        elif e.action == ERASURE_ACTION:
            for item in e.data.get("entries", []):
                if unconfirmed.get(item.get("seq")) == (item.get("hash"), e.seq):
                    del unconfirmed[item["seq"]]
        if e.seq in anchors:
            checked += 1
            if anchors[e.seq] != e.hash:
                bad = e.seq
                break
        prev, expected_seq = e.hash, e.seq + 1
    problems = [seq for seq, (_, erasure_seq) in unconfirmed.items() if bad is None or erasure_seq < bad]
    if bad is not None:
        problems.append(bad)
    elif any(seq >= expected_seq for seq in anchors):
        problems.append(expected_seq)  # entries that were anchored are missing from the end
    first_bad = min(problems) if problems else None
    return Verification(first_bad is None, count, prev, first_bad, checked)
