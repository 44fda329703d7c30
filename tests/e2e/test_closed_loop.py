"""Issue 13, case by case, through the strict ACS emulator on SQLite and PostgreSQL: the consent gate enforces
what ACS did, judged by the emulator's own timeline (who was present, what was recorded), never by our rows.

Each test names the break it covers. The worst unconsented exposure each case allows is printed, and the
README's reliability section quotes these figures.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.acs_control import (
    STRICT,
    act,
    answered,
    clear_faults,
    fault,
    participant,
    recording_at,
    recording_state,
    requests_of,
    timeline,
    wait_for,
)
from tests.e2e.stack import BACKENDS, Stack, stack_on_backend

LATE_JOIN_MS = 1500  # when the newcomer of a scenario joins, after the call is answered
REACTION_MS = (
    1000  # what a newcomer may be heard by a recording, as in the chaos tests: our reaction and ACS's
)
LOOP_MS = (
    1000 + REACTION_MS
)  # one reconciliation period ([calls] reconcile_seconds = 1) and then the reaction
EXPOSURE: dict[str, int] = {}  # case -> worst unconsented milliseconds seen, printed at the end


@pytest.fixture(scope="module", params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    EXPOSURE.clear()
    yield from stack_on_backend(request, tmp_path_factory.mktemp("closed-loop"), emulator_args=STRICT)
    print(f"\n{request.param}: worst unconsented exposure per case (ms):", dict(sorted(EXPOSURE.items())))


@pytest.fixture(autouse=True)
def no_fault_outlives_its_test(stack: Stack) -> Iterator[None]:
    yield
    clear_faults(stack)


def note(case: str, ms: int) -> int:
    EXPOSURE[case] = max(EXPOSURE.get(case, 0), ms)
    return ms


def numbers(n: int) -> list[str]:
    """Fresh phone numbers, so the ledger of one test never mixes with another's."""
    base = uuid.uuid4().int % 10**6
    return [f"4:+1425{base:06d}{i}" for i in range(n)]


def recording_call(stack: Stack, first: dict[str, Any], *others: dict[str, Any]) -> tuple[str, str]:
    """A call whose first participant agrees at once; returns it once ACS reports it recorded."""
    server_call_id = stack.place_call([first, *others])
    wait_for(lambda: recording_state(stack, server_call_id) == "active", what="recording")
    connection = stack.emulated_call(server_call_id)["call_connection_id"]
    return server_call_id, str(connection)


def test_1_the_service_never_prompts_its_own_identities_and_records(stack: Stack) -> None:
    (a,) = numbers(1)
    server_call_id = stack.place_call([{"raw_id": a, "answers": ["1"], "leave_at_ms": 3000}])
    call = stack.wait_until_ended(server_call_id)
    own = set(call["self_identities"])
    assert own, "the strict emulator lists the callee and the application among the participants"
    assert {r["target"] for r in requests_of(call, "start_recognizing_media")} == {a}
    assert len(requests_of(call, "start_recording")) == 1
    assert [(e["participant"], e["outcome"]) for e in stack.consents(server_call_id=server_call_id)] == [
        (a, "granted")
    ]
    service = {p["participant"] for p in timeline(stack, call["call_connection_id"])["participants"]}
    assert own <= service  # in the call's timeline, as the service
    roles = {
        p["participant"]: p["consent"] for p in timeline(stack, call["call_connection_id"])["participants"]
    }
    assert {roles[i] for i in own} == {"service"}


def test_2_a_pause_that_keeps_failing_stops_the_recording(stack: Stack) -> None:
    a, b = numbers(2)
    server_call_id, connection = recording_call(
        stack,
        {"raw_id": a, "answers": ["1"], "leave_at_ms": 9000},
        {"raw_id": b, "answers": ["1"], "join_at_ms": 3000, "leave_at_ms": 9000},
    )
    fault(
        stack,
        kind="fail_request",
        operation="pause_recording",
        count=50,
        status=500,
        server_call_id=server_call_id,
    )
    wait_for(lambda: recording_state(stack, server_call_id) == "stopped", what="the recording stopped")
    call = stack.wait_until_ended(server_call_id)
    assert len(requests_of(call, "stop_recording")) == 1
    assert requests_of(call, "resume_recording") == []
    assert not any(recording_at(call, r["at_ms"]) for r in requests_of(call, "start_recognizing_media", b))
    assert note("2: pause keeps failing -> stop", call["unconsented_recorded_ms"][b]) <= 2 * REACTION_MS
    actions = [entry["action"] for entry in timeline(stack, connection)["audit"]]
    assert "call.CommandFailed" in actions


def test_2_a_start_reported_failed_that_acs_did_start_is_adopted_and_gated(stack: Stack) -> None:
    a, b = numbers(2)
    server_call_id = stack.place_call(
        [
            {"raw_id": a, "answers": ["1"], "answer_delay_ms": 800, "leave_at_ms": 7000},
            {"raw_id": b, "answers": ["2"], "join_at_ms": 3500, "leave_at_ms": 7000},
        ]
    )
    # ACS starts the recording, then answers 400: the SDK reports a failure, the callback says otherwise
    fault(
        stack,
        kind="fail_request",
        operation="start_recording",
        count=1,
        status=400,
        applied=True,
        server_call_id=server_call_id,
    )
    call = stack.wait_until_ended(server_call_id)
    assert len(requests_of(call, "pause_recording")) >= 1
    assert note("2: start failed but recorded -> adopted", call["unconsented_recorded_ms"][b]) <= REACTION_MS


def test_3_a_recording_acs_resumes_by_itself_is_paused_again(stack: Stack) -> None:
    a, b = numbers(2)
    server_call_id, _ = recording_call(
        stack,
        {"raw_id": a, "answers": ["1"], "leave_at_ms": 8000},
        {"raw_id": b, "answers": ["2"], "join_at_ms": LATE_JOIN_MS, "leave_at_ms": 8000},
    )
    wait_for(lambda: answered(stack, server_call_id, b), what="the newcomer declined")
    wait_for(lambda: recording_state(stack, server_call_id) == "inactive", what="paused")
    act(stack, server_call_id, action="recording_state", state="active")  # not us: ACS, or another app
    wait_for(lambda: recording_state(stack, server_call_id) == "inactive", timeout=5, what="paused again")
    call = stack.wait_until_ended(server_call_id)
    assert note("3: ACS resumes by itself", call["unconsented_recorded_ms"][b]) <= 2 * REACTION_MS


def test_4_someone_who_rejoins_can_still_withdraw(stack: Stack) -> None:
    a, b = numbers(2)
    server_call_id, _connection = recording_call(
        stack,
        {"raw_id": a, "answers": ["1"], "leave_at_ms": 12000},
        {"raw_id": b, "answers": ["1"], "answer_delay_ms": 200, "leave_at_ms": 12000},
    )
    act(stack, server_call_id, action="leave", participant=b)
    time.sleep(1.0)
    act(stack, server_call_id, action="join", participant=b)
    wait_for(
        lambda: participant(stack.emulated_call(server_call_id), b)["continuous_dtmf"],
        what="withdrawal re-armed",
    )
    act(stack, server_call_id, action="tone", participant=b, tone="9")
    wait_for(lambda: recording_state(stack, server_call_id) == "inactive", timeout=5, what="paused")
    act(stack, server_call_id, action="hang_up")
    call = stack.wait_until_ended(server_call_id)
    assert note("4: withdrawal after a rejoin", call["unconsented_recorded_ms"][b]) <= REACTION_MS
    outcomes = [(e["participant"], e["outcome"]) for e in stack.consents(server_call_id=server_call_id)]
    assert (b, "withdrawn") in outcomes


@pytest.mark.parametrize("unreadable", ["sequence_number", "identifier"])
def test_5_an_update_we_cannot_order_or_read_fails_safe(stack: Stack, unreadable: str) -> None:
    a, b = numbers(2)
    server_call_id, _ = recording_call(
        stack,
        {"raw_id": a, "answers": ["1"], "leave_at_ms": 8000},
        {"raw_id": b, "answers": ["1"], "join_at_ms": 60000, "leave_at_ms": 8000},
    )
    # the newcomer's own update is lost; the only news of them is one the service cannot order or read
    fault(stack, kind="drop_callback", event="ParticipantsUpdated", count=1, server_call_id=server_call_id)
    act(stack, server_call_id, action="join", participant=b)
    if unreadable == "sequence_number":
        act(stack, server_call_id, action="participants_updated", sequence_number=False)
    else:
        act(stack, server_call_id, action="participants_updated", without_raw_id=b)
    wait_for(lambda: answered(stack, server_call_id, b), what="the newcomer was asked")
    call = stack.wait_until_ended(server_call_id)
    assert not any(recording_at(call, r["at_ms"]) for r in requests_of(call, "start_recognizing_media", b))
    assert (
        note(f"5: newcomer in an update without {unreadable}", call["unconsented_recorded_ms"][b])
        <= REACTION_MS
    )


def test_6_reordered_recording_reports_keep_the_evidence_in_acs_order(stack: Stack) -> None:
    a, b = numbers(2)
    server_call_id, connection = recording_call(
        stack,
        {"raw_id": a, "answers": ["1"], "leave_at_ms": 8000},
        {"raw_id": b, "answers": ["1"], "join_at_ms": 2500, "answer_delay_ms": 300, "leave_at_ms": 8000},
    )
    # the pause's "inactive" and the resume's "active" arrive the other way round
    fault(
        stack, kind="reorder_callbacks", event="RecordingStateChanged", count=2, server_call_id=server_call_id
    )
    call = stack.wait_until_ended(server_call_id)
    time.sleep(2.5)  # the reorder rule flushes what it holds after 2 s
    segments = timeline(stack, connection)["recording_segments"]
    assert [s["at"] for s in segments] == sorted(s["at"] for s in segments)
    assert recorded_spans(segments) == len(call["recording_intervals"]) == 2, segments


def recorded_spans(segments: list[dict[str, Any]]) -> int:
    """How many stretches of recording the evidence shows (a read and a late report may both say paused)."""
    spans, active = 0, False
    for segment in segments:
        now_active = segment["kind"] in ("started", "resumed")
        spans += now_active and not active
        active = now_active
    return spans


def test_6_start_recording_failed_is_audited(stack: Stack) -> None:
    (a,) = numbers(1)
    server_call_id, connection = recording_call(stack, {"raw_id": a, "answers": ["1"], "leave_at_ms": 6000})
    call = stack.emulated_call(server_call_id)
    url = next(c["url"] for c in call["callbacks"] if "/webhooks/acs/" in c["url"])
    event = {  # ACS gives up on a recording it had started: what it sends, as its recorded payloads show
        "id": str(uuid.uuid4()),
        "source": "calling/recordings/x",
        "type": "Microsoft.Communication.StartRecordingFailed",
        "specversion": "1.0",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data": {
            "callConnectionId": connection,
            "recordingId": call["recording"]["recording_id"],
            "resultInformation": {"code": 500, "subCode": 8500, "message": "could not record"},
        },
    }
    headers = {"Authorization": f"Bearer {stack.keys.token(stack.issuer)}"}
    assert httpx.post(url, json=[event], headers=headers, timeout=10).status_code == 200
    actions = [entry["action"] for entry in timeline(stack, connection)["audit"]]
    assert "call.StartRecordingFailed" in actions


def test_7_a_lost_answer_is_asked_again_and_the_call_recorded(stack: Stack) -> None:
    (a,) = numbers(1)
    server_call_id = stack.place_call([{"raw_id": a, "answers": ["1", "1"], "leave_at_ms": 12000}])
    fault(stack, kind="drop_callback", event="RecognizeCompleted", count=1, server_call_id=server_call_id)
    wait_for(lambda: recording_state(stack, server_call_id) == "active", timeout=12, what="recorded")
    call = stack.emulated_call(server_call_id)
    assert len(requests_of(call, "start_recognizing_media", a)) == 2
    assert [(e["participant"], e["outcome"]) for e in stack.consents(server_call_id=server_call_id)] == [
        (a, "granted")
    ]


def test_7_a_lost_join_is_read_back_and_the_newcomer_asked(stack: Stack) -> None:
    a, b = numbers(2)
    server_call_id, _ = recording_call(
        stack,
        {"raw_id": a, "answers": ["1"], "leave_at_ms": 9000},
        {"raw_id": b, "answers": ["1"], "join_at_ms": 60000, "leave_at_ms": 9000},
    )
    fault(stack, kind="drop_callback", event="ParticipantsUpdated", count=1, server_call_id=server_call_id)
    act(stack, server_call_id, action="join", participant=b)
    wait_for(lambda: answered(stack, server_call_id, b), what="the newcomer was asked")
    call = stack.wait_until_ended(server_call_id)
    assert note("7: the newcomer's join callback lost", call["unconsented_recorded_ms"][b]) <= LOOP_MS


def test_8_an_incoming_call_to_an_agent_identity_is_not_answered(stack: Stack) -> None:
    service_key = stack.cli("keys", "create", "--role", "service", "--name", f"closed-loop {uuid.uuid4()}")
    key = service_key.stdout.strip().splitlines()[-1]
    issued = httpx.post(
        f"{stack.service_url}/api/tokens",
        json={"user_id": f"agent-{uuid.uuid4().hex[:8]}"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    agent = issued.json()["identity"]
    stack.cli("agents", "exempt", agent)  # an admin's act: a token alone exempts nobody
    (caller,) = numbers(1)
    server_call_id = stack.place_call(
        [
            {"raw_id": caller, "answers": ["1"], "leave_at_ms": 4000},
            {"raw_id": agent, "exempt": True, "join_at_ms": 500, "leave_at_ms": 4000},
        ]
    )
    call = stack.wait_until_ended(server_call_id)
    assert call["legs"], "ACS rang the agent's identity too"
    assert call["legs_answered_by_application"] == []  # the service let the agent take it
    legs = [stack.emulated_call(leg) for leg in call["legs"]]
    assert all(requests_of(leg, "answer_call") == [] for leg in legs)
    ledger = {(e["participant"], e["outcome"]) for e in stack.consents(server_call_id=server_call_id)}
    assert ledger == {(caller, "granted"), (agent, "exempt")}  # the agent joined the call itself


def test_9_a_prompt_that_fails_for_good_is_asked_again(stack: Stack) -> None:
    (a,) = numbers(1)
    server_call_id = stack.place_call([{"raw_id": a, "answers": ["1"], "leave_at_ms": 6000}])
    fault(
        stack,
        kind="fail_request",
        operation="start_recognizing_media",
        count=1,
        status=400,
        server_call_id=server_call_id,
    )
    wait_for(lambda: recording_state(stack, server_call_id) == "active", timeout=6, what="recorded")
    assert [(e["participant"], e["outcome"]) for e in stack.consents(server_call_id=server_call_id)] == [
        (a, "granted")
    ]


def test_9_a_cancelled_recognition_is_asked_again(stack: Stack) -> None:
    (a,) = numbers(1)
    server_call_id = stack.place_call(
        [{"raw_id": a, "answers": ["1", "1"], "answer_delay_ms": 1500, "leave_at_ms": 9000}]
    )
    wait_for(lambda: stack.emulated_call(server_call_id)["media_queue"], what="a prompt running")
    act(stack, server_call_id, action="cancel_media")
    wait_for(lambda: recording_state(stack, server_call_id) == "active", timeout=8, what="recorded")
    assert len(requests_of(stack.emulated_call(server_call_id), "start_recognizing_media", a)) == 2


def test_serialised_prompts_reach_everyone_once_in_turn(stack: Stack) -> None:
    people = numbers(5)
    server_call_id = stack.place_call(
        [{"raw_id": who, "answers": ["1"], "answer_delay_ms": 400, "leave_at_ms": 15000} for who in people]
    )
    wait_for(lambda: recording_state(stack, server_call_id) == "active", timeout=15, what="recorded")
    call = stack.emulated_call(server_call_id)
    assert sorted(r["target"] for r in requests_of(call, "start_recognizing_media")) == sorted(people)
    started = requests_of(call, "start_recording")[0]["at_ms"]
    print(f"\nfive people, one media queue: consent complete and recording started at {started} ms")
    act(stack, server_call_id, action="hang_up")
    call = stack.wait_until_ended(server_call_id)
    assert set(call["unconsented_recorded_ms"].values()) == {0}
