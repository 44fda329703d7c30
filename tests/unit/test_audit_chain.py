"""The hash chain's verification: links, hashes, gaps, erasure tombstones and external anchors."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from recorder.domain import audit_chain as chain

T = datetime(2026, 11, 28, tzinfo=UTC)


def build(datas: list[dict[str, Any]], actions: list[str] | None = None) -> list[chain.ChainEntry]:
    entries, prev = [], chain.GENESIS
    for i, data in enumerate(datas, start=1):
        action = actions[i - 1] if actions else "call.X"
        digest = chain.entry_hash(prev, chain.canonical(i, T, "acs", action, None, data))
        entries.append(chain.ChainEntry(i, T, "acs", action, None, data, prev, digest))
        prev = digest
    return entries


def test_link_hashes_the_previous_hash_with_the_entry_s_canonical_form() -> None:
    first = chain.link(chain.GENESIS, 1, T, "acs", "call.X", "c-1", {"n": 1})
    second = chain.link(first.hash, 2, T, "key:k", "call.Y", None, {})
    content = chain.canonical(1, T, "acs", "call.X", "c-1", {"n": 1})
    expected = hashlib.sha256(chain.GENESIS.encode() + content).hexdigest()
    assert first == chain.ChainEntry(1, T, "acs", "call.X", "c-1", {"n": 1}, chain.GENESIS, expected)
    assert second.prev_hash == first.hash and chain.verify([first, second]).ok


def test_an_intact_chain_verifies_and_reports_its_head() -> None:
    entries = build([{"n": i} for i in range(5)])
    result = chain.verify(entries)
    assert (result.ok, result.entries, result.head, result.first_bad) == (True, 5, entries[-1].hash, None)


def test_a_changed_entry_a_missing_one_and_a_missing_tail_are_named() -> None:
    entries = build([{"n": i} for i in range(5)])
    changed = [*entries[:2], replace(entries[2], data={"n": 99}), *entries[3:]]
    assert chain.verify(changed).first_bad == 3
    assert chain.verify([*entries[:3], *entries[4:]]).first_bad == 4
    anchors = {5: entries[4].hash}
    assert chain.verify(entries[:4], anchors).first_bad == 5  # only the anchor knows the tail existed
    assert chain.verify(entries[:4]).ok


def test_a_chain_rewritten_wholesale_disagrees_with_its_anchor() -> None:
    genuine = build([{"n": i} for i in range(5)])
    forged = build([{"n": i} if i != 1 else {"n": "forged"} for i in range(5)])
    assert chain.verify(forged).ok
    result = chain.verify(forged, {3: genuine[2].hash, 5: genuine[4].hash})
    assert (result.ok, result.first_bad) == (False, 3)
    assert chain.verify(genuine, {3: genuine[2].hash, 5: genuine[4].hash}).anchors_checked == 2


def tombstoned(entries: list[chain.ChainEntry], seq: int, erasure_seq: int) -> chain.ChainEntry:
    return replace(entries[seq - 1], data={"erased": True, "erasure_seq": erasure_seq, "content_sha256": "x"})


def test_a_tombstone_listed_by_a_later_erasure_entry_verifies() -> None:
    first = build([{"who": "4:+1"}, {"n": 2}])
    listed = {"entries": [{"seq": 1, "hash": first[0].hash}]}
    entries = build([{"who": "4:+1"}, {"n": 2}, listed], ["call.X", "call.X", chain.ERASURE_ACTION])
    assert chain.verify([tombstoned(entries, 1, 3), *entries[1:]]).ok


def test_a_tombstone_nobody_listed_or_a_forged_erasure_is_named() -> None:
    entries = build([{"who": "4:+1"}, {"n": 2}, {"entries": []}], ["call.X", "call.X", chain.ERASURE_ACTION])
    assert chain.verify([tombstoned(entries, 1, 3), *entries[1:]]).first_bad == 1
    assert chain.verify([entries[0], tombstoned(entries, 2, 1), entries[2]]).first_bad == 2  # erased before
    assert chain.verify([entries[0], tombstoned(entries, 2, 9), entries[2]]).first_bad == 2  # never erased


def test_the_canonical_form_is_fixed_so_old_chains_verify_with_new_code() -> None:
    content = chain.canonical(7, T, "acs", "call.X", "c-1", {"é": 1, "a": [True, None]})
    assert (
        content
        == (
            '{"action":"call.X","actor":"acs","at":"2026-11-28T00:00:00+00:00","call_id":"c-1",'
            '"data":{"a":[true,null],"é":1},"seq":7}'
        ).encode()
    )
    assert (
        chain.entry_hash(chain.GENESIS, content)
        == hashlib.sha256(chain.GENESIS.encode() + content).hexdigest()
    )
