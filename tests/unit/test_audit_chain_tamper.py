"""The hash chain against edits a forger could make with database access: renumbered or relinked entries, a
changed call id, odd tombstones and erasure entries. Verification names the first bad seq and never fails."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from recorder.domain import audit_chain as chain
from tests.unit.test_audit_chain import T, build, tombstoned


def numbered(seqs: list[int]) -> list[chain.ChainEntry]:
    """A chain whose hashes and links are all recomputed, with the seqs given (a forger's renumbering)."""
    entries, prev = [], chain.GENESIS
    for seq in seqs:
        data: dict[str, Any] = {"n": seq}
        digest = chain.entry_hash(prev, chain.canonical(seq, T, "acs", "call.X", None, data))
        entries.append(chain.ChainEntry(seq, T, "acs", "call.X", None, data, prev, digest))
        prev = digest
    return entries


def test_an_entry_removed_and_the_rest_relinked_still_leaves_a_gap_that_is_named() -> None:
    result = chain.verify(numbered([1, 2, 4, 5]))
    assert (result.ok, result.first_bad) == (False, 3)


def test_an_entry_whose_link_to_the_previous_one_was_changed_is_named() -> None:
    entries = build([{"n": i} for i in range(3)])
    relinked = [entries[0], replace(entries[1], prev_hash="f" * 64), entries[2]]
    assert chain.verify(relinked).first_bad == 2


def test_an_entry_moved_to_another_call_is_named() -> None:
    entries, prev = [], chain.GENESIS
    for seq in (1, 2):
        digest = chain.entry_hash(prev, chain.canonical(seq, T, "acs", "call.X", f"call-{seq}", {}))
        entries.append(chain.ChainEntry(seq, T, "acs", "call.X", f"call-{seq}", {}, prev, digest))
        prev = digest
    assert chain.verify(entries).ok
    assert chain.verify([entries[0], replace(entries[1], call_id="call-1")]).first_bad == 2


def test_a_tombstone_without_the_seq_of_its_erasure_is_named() -> None:
    entries = build([{"who": "4:+1"}, {"n": 2}])
    bare = replace(entries[0], data={"erased": True, "content_sha256": "x"})
    assert chain.verify([bare, entries[1]]).first_bad == 1


def test_verification_stops_at_the_first_bad_entry_and_reports_the_last_good_head() -> None:
    entries = build([{"n": 1}, {"who": "4:+1"}, {"n": 3}])
    self_erased = tombstoned(entries, 2, 2)  # claims to be erased by itself
    result = chain.verify([entries[0], self_erased, entries[2]])
    assert (result.ok, result.first_bad, result.entries, result.head) == (False, 2, 2, entries[0].hash)


def test_an_erasure_entry_that_lists_nothing_confirms_nothing_and_verification_still_answers() -> None:
    entries = build([{"who": "4:+1"}, {"subject_sha256": "x"}], ["call.X", chain.ERASURE_ACTION])
    assert chain.verify(entries).ok
    assert chain.verify([tombstoned(entries, 1, 2), entries[1]]).first_bad == 1


def test_a_broken_anchor_is_named_rather_than_an_erasure_beyond_it_that_was_never_reached() -> None:
    first = build([{"who": "4:+1"}, {"n": 2}])
    listed = {"entries": [{"seq": 1, "hash": first[0].hash}]}
    entries = build([{"who": "4:+1"}, {"n": 2}, listed], ["call.X", "call.X", chain.ERASURE_ACTION])
    erased = [tombstoned(entries, 1, 3), *entries[1:]]
    assert chain.verify(erased).ok
    assert chain.verify(erased, {2: "0" * 64}).first_bad == 2


def test_an_erasure_entry_that_was_altered_is_named_rather_than_the_tombstones_it_listed() -> None:
    first = build([{"who": "4:+1"}, {"n": 2}])
    listed = {"entries": [{"seq": 1, "hash": first[0].hash}]}
    entries = build([{"who": "4:+1"}, {"n": 2}, listed], ["call.X", "call.X", chain.ERASURE_ACTION])
    altered = replace(entries[2], data={"entries": [{"seq": 1, "hash": first[0].hash}], "extra": 1})
    assert chain.verify([tombstoned(entries, 1, 3), entries[1], altered]).first_bad == 3
