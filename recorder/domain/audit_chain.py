"""The audit trail's hash chain: each entry's hash covers the previous hash and its own canonical JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
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


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head: str
    first_bad: int | None


def verify(entries: Iterable[ChainEntry]) -> Verification:
    """Recompute the chain; name the first entry whose link, hash or position is wrong."""
    prev, count, expected_seq = GENESIS, 0, 1
    for e in entries:
        count += 1
        content = canonical(e.seq, e.at, e.actor, e.action, e.call_id, e.data)
        if e.seq != expected_seq or e.prev_hash != prev or entry_hash(prev, content) != e.hash:
            return Verification(False, count, prev, e.seq if e.seq == expected_seq else expected_seq)
        prev, expected_seq = e.hash, e.seq + 1
    return Verification(True, count, prev, None)
