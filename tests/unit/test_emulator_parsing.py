"""The emulator's pure parts: knobs, fault rules, call actions, WAV checks, chunks, repeatability."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from recorder.emulator.behaviour import Behaviour, BehaviourError, parse_assignments, parse_behaviour
from recorder.emulator.call_actions import CallAction, parse_action
from recorder.emulator.faults import CallbackFault, FaultBook, FaultError, RequestFault, parse_faults
from recorder.emulator.play_sources import wav_is_playable
from recorder.emulator.recording_files import chunk_sizes
from recorder.emulator.repeatability import Repeatability, applies
from recorder.emulator.rest import AcsError, Reply
from recorder.emulator.scenario import ScenarioError, parse_call_scenario


def test_the_defaults_are_the_strict_ones() -> None:
    strict = Behaviour()
    assert (strict.media_queue, strict.callback_retries, strict.self_listed) == (
        "per_call",
        0,
        "callee_and_app",
    )
    assert strict.repeatability == "sdk_operations" and strict.sequence_gaps and strict.validate_play_sources


def test_knobs_change_only_what_they_name() -> None:
    changed = parse_behaviour({"media_queue": "parallel", "callback_retries": 3, "recording_chunk_ms": 250})
    assert (changed.media_queue, changed.callback_retries, changed.recording_chunk_ms) == (
        "parallel",
        3,
        250.0,
    )
    assert changed.self_listed == Behaviour().self_listed
    again = parse_behaviour({"sequence_gaps": False}, changed)
    assert (again.media_queue, again.sequence_gaps) == ("parallel", False)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"media_queue": "lifo"}, "media_queue must be one of"),
        ({"callback_retries": -1}, "zero or more"),
        ({"callback_retries": 1.5}, "whole number"),
        ({"callback_retries": True}, "must be a number"),
        ({"participants_page_size": 0}, "positive"),
        ({"sequence_gaps": "yes"}, "true or false"),
        ({"no_such_knob": 1}, "unknown behaviour knob"),
        ({"byos_storage_type": ""}, "non-empty string"),
    ],
)
def test_bad_knobs_are_refused_by_name(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(BehaviourError, match=message):
        parse_behaviour(changes)
    with pytest.raises(BehaviourError):
        parse_behaviour(["not", "an", "object"])


def test_cli_assignments() -> None:
    parsed = parse_assignments(["media_queue=parallel", "sequence_gaps=false", "eventgrid_first_retry_s=0.5"])
    assert (parsed.media_queue, parsed.sequence_gaps, parsed.eventgrid_first_retry_s) == (
        "parallel",
        False,
        0.5,
    )
    for bad in (["media_queue"], ["callback_retries=many"], ["sequence_gaps=maybe"], ["=3"]):
        with pytest.raises(BehaviourError):
            parse_assignments(bad)


def test_a_scenario_checks_its_behaviour() -> None:
    scenario = parse_call_scenario({"from": "4:+1", "to": "4:+2", "behaviour": {"media_queue": "parallel"}})
    assert scenario.behaviour == {"media_queue": "parallel"}
    with pytest.raises(ScenarioError, match="behaviour: media_queue"):
        parse_call_scenario({"from": "4:+1", "to": "4:+2", "behaviour": {"media_queue": "x"}})


def test_fault_rules_parse() -> None:
    request_rule, callback_rule = parse_faults(
        {
            "faults": [
                {"kind": "fail_request", "operation": "pause_recording", "count": 2, "status": 503},
                {"kind": "delay_callback", "event": "Microsoft.Communication.PlayCompleted", "delay_ms": 40},
            ]
        }
    )
    assert request_rule == RequestFault("pause_recording", 2, 503, "503", "Injected fault.")
    assert callback_rule == CallbackFault("delay_callback", "PlayCompleted", 1, 40.0)
    (single,) = parse_faults({"kind": "drop_callback"})
    assert single == CallbackFault("drop_callback", "*", 1)


@pytest.mark.parametrize(
    "rule",
    [
        "drop",
        [],
        {"faults": []},
        {"kind": "boom"},
        {"kind": "fail_request"},
        {"kind": "fail_request", "operation": "x", "status": 302},
        {"kind": "fail_request", "operation": "x", "count": 0},
        {"kind": "fail_request", "operation": "x", "count": 10_000},
        {"kind": "fail_request", "operation": "x", "applied": "yes"},
        {"kind": "delay_callback", "delay_ms": -5},
        {"kind": "reorder_callbacks", "count": 1},
    ],
)
def test_bad_fault_rules_are_refused(rule: object) -> None:
    with pytest.raises(FaultError):
        parse_faults(rule)


def test_a_rule_is_spent_by_matching_uses_only() -> None:
    book = FaultBook()
    book.add(
        parse_faults(
            {"kind": "fail_request", "operation": "play_media", "count": 2, "call_connection_id": "c1"}
        )
    )
    assert book.take_request_fault("play_media", {"call_connection_id": "c2"}) is None
    assert book.take_request_fault("recognize", {"call_connection_id": "c1"}) is None
    assert book.take_request_fault("play_media", {"call_connection_id": "c1"}) is not None
    assert book.take_request_fault("play_media", {"call_connection_id": "c1"}) is not None
    assert book.take_request_fault("play_media", {"call_connection_id": "c1"}) is None
    book.add(parse_faults({"kind": "drop_callback", "event": "PlayCompleted", "server_call_id": "s1"}))
    assert book.take_callback_fault("Microsoft.Communication.PlayCompleted", "s2") is None
    assert book.take_callback_fault("Microsoft.Communication.PlayCompleted", "s1") is not None
    assert book.describe()["active"] == [] and len(book.describe()["fired"]) == 3


def test_call_actions_parse() -> None:
    assert parse_action({"action": "tone", "participant": "4:+1", "tone": "A"}) == CallAction(
        "tone", "4:+1", tone="a"
    )
    assert parse_action({"action": "participants_updated", "sequence_number": False}).sequenced is False
    bad: object
    for bad in (
        [],
        {"action": "explode"},
        {"action": "leave"},
        {"action": "tone", "participant": "4:+1", "tone": "12"},
        {"action": "recording_state", "state": "paused"},
        {"action": "participants_updated", "sequence_number": "no"},
    ):
        with pytest.raises(ScenarioError):
            parse_action(bad)


def wav(
    channels: int = 1, rate: int = 16_000, bits: int = 16, audio_format: int = 1, extra: bytes = b""
) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", audio_format, channels, rate, rate * block, block, bits)
    return (
        b"RIFF\x00\x00\x00\x00WAVE" + extra + b"fmt " + struct.pack("<I", 16) + fmt + b"data\x00\x00\x00\x00"
    )


def test_only_mono_16_bit_16_khz_pcm_wav_plays() -> None:
    assert wav_is_playable(wav())
    assert wav_is_playable(wav(extra=b"LIST" + struct.pack("<I", 3) + b"abc\x00"))  # a chunk before fmt
    for unplayable in (wav(channels=2), wav(rate=8_000), wav(bits=8), wav(audio_format=3), b"ID3", b"RIFF"):
        assert not wav_is_playable(unplayable)


def test_recordings_are_cut_into_chunks() -> None:
    assert chunk_sizes(1000, 3_600_000) == [32_044]
    sizes = chunk_sizes(2500, 1000)
    assert len(sizes) == 3 and sizes[0] == sizes[1] == 32_044 and sizes[2] == 16_044
    assert chunk_sizes(0, 1000) == [44]  # at least one (empty) chunk


def headers(first_sent: datetime) -> str:
    return format_datetime(first_sent, usegmt=True)


def test_repeatability_follows_the_sdk_and_the_documented_window() -> None:
    strict = Behaviour()
    assert applies(strict, "start_recording", "POST") and applies(strict, "answer_call", "POST")
    assert not applies(strict, "start_recognizing_media", "POST") and not applies(
        strict, "play_media", "POST"
    )
    assert not applies(strict, "pause_recording", "POST") and not applies(
        strict, "get_call_properties", "GET"
    )
    assert applies(parse_behaviour({"repeatability": "all"}), "play_media", "POST")
    assert not applies(parse_behaviour({"repeatability": "none"}), "start_recording", "POST")

    seen = Repeatability()
    request_id, sent = str(uuid.uuid4()), headers(datetime.now(UTC))
    assert seen.replay(strict, "start_recording", request_id, sent, b"{}") is None
    seen.remember("start_recording", request_id, sent, b"{}", Reply(200, {"recordingId": "r"}), "call")
    replayed = seen.replay(strict, "start_recording", request_id, sent, b"{}")
    assert replayed is not None and replayed.body == {"recordingId": "r"}
    for first_sent, body, status in (
        (sent, b'{"other": 1}', 400),
        (headers(datetime.now(UTC) + timedelta(seconds=3)), b"{}", 400),
        (headers(datetime.now(UTC) - timedelta(minutes=6)), b"{}", 412),
        ("yesterday", b"{}", 400),
        (None, b"{}", 400),
    ):
        with pytest.raises(AcsError) as refused:
            seen.replay(strict, "start_recording", request_id, first_sent, body)
        assert refused.value.status == status
    with pytest.raises(AcsError):
        seen.replay(strict, "start_recording", "not-a-guid", sent, b"{}")
    lenient = parse_behaviour({"repeatability_match_first_sent": False})
    later = headers(datetime.now(UTC) + timedelta(seconds=3))
    assert seen.replay(lenient, "start_recording", request_id, later, b"{}") is not None
