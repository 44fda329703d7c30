"""Media operations through the real SDK: one queue per call (each silence timer starts at the front), holds
during targeted prompts, barging in, and the play sources ACS accepts (WAV mono 16 kHz files it can fetch,
text-to-speech only through a linked AI resource, nothing to Teams users)."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator

import pytest
from azure.communication.callautomation import (
    FileSource,
    MicrosoftTeamsUserIdentifier,
    TextSource,
)
from azure.core.exceptions import HttpResponseError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from recorder.emulator.server import ThreadedServer, serve_in_thread
from tests.integration.emulator_harness import SPEECH, Harness, connected, new_phone, phone, running_harness


def wav(channels: int = 1, rate: int = 16_000, bits: int = 16, audio_format: int = 1) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", audio_format, channels, rate, rate * block, block, bits)
    data = b"\x00" * 3200
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + (struct.pack("<I", len(data)) + data)
    )


PROMPTS = {
    "/good.wav": wav(),
    "/stereo.wav": wav(channels=2),
    "/cd.wav": wav(rate=44_100),
    "/prompt.mp3": b"ID3\x04" + b"\x00" * 100,
}


@pytest.fixture(scope="module")
def prompts() -> Iterator[str]:
    async def serve(request: Request) -> Response:
        body = PROMPTS.get(request.url.path)
        return Response(body, media_type="audio/wav") if body is not None else Response(status_code=404)

    server: ThreadedServer = serve_in_thread(Starlette(routes=[Route("/{name:path}", serve)]))
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    with running_harness() as running:
        yield running


def callback_time(harness: Harness, connection_id: str, name: str, count: int = 1) -> float:
    """When the emulator sent the ``count``-th ``name`` (recorded once the receiver's answer is back)."""
    harness.receiver.callback(connection_id, name, count=count, timeout=10)
    deadline = time.monotonic() + 5
    while True:
        attempts = [a for a in harness.describe(connection_id)["callbacks"] if a["type"].endswith("." + name)]
        if len(attempts) >= count or time.monotonic() > deadline:
            value: float = attempts[count - 1]["sent_at_s"]
            return value
        time.sleep(0.02)


def test_prompts_to_several_people_run_one_after_another(harness: Harness) -> None:
    first, second = new_phone(), new_phone()
    call = harness.answer(
        [
            {"raw_id": first, "answers": ["1"], "answer_delay_ms": 300},
            {"raw_id": second, "answers": ["silence"]},
        ],
        play_ms=200,
    )
    connection = harness.client.get_call_connection(call.call_connection_id)
    prompt = TextSource(text="Press 1 to agree.")
    for person, context in ((first, "first"), (second, "second")):
        connection.start_recognizing_media(
            "dtmf", phone(person), play_prompt=prompt, initial_silence_timeout=1, operation_context=context
        )
    queue = harness.describe(call.server_call_id)["media_queue"]
    assert [(op["operation_context"], op["started"]) for op in queue] == [("first", True), ("second", False)]

    done_first = callback_time(harness, call.call_connection_id, "RecognizeCompleted")
    failed_second = callback_time(harness, call.call_connection_id, "RecognizeFailed")
    # the second silence timer (1 s) started only after the first recognition and the second prompt (0.2 s)
    assert failed_second - done_first >= 1.15


def test_with_a_parallel_queue_prompts_run_at_once(harness: Harness) -> None:
    first, second = new_phone(), new_phone()
    call = harness.answer(
        [{"raw_id": first, "answers": ["1"], "answer_delay_ms": 300}, {"raw_id": second, "answers": ["1"]}],
        behaviour={"media_queue": "parallel"},
    )
    connection = harness.client.get_call_connection(call.call_connection_id)
    for person in (first, second):
        connection.start_recognizing_media("dtmf", phone(person), initial_silence_timeout=1)
    assert all(op["started"] for op in harness.describe(call.server_call_id)["media_queue"])
    harness.receiver.callback(call.call_connection_id, "RecognizeCompleted", count=2)


def test_the_target_of_a_prompt_is_on_hold_until_it_ends(harness: Harness) -> None:
    caller, other = new_phone(), new_phone()
    call = harness.answer([{"raw_id": caller, "answers": ["1"], "answer_delay_ms": 500}, {"raw_id": other}])
    connection = harness.client.get_call_connection(call.call_connection_id)
    connection.start_recognizing_media(
        "dtmf", phone(caller), play_prompt=TextSource(text="Press 1."), initial_silence_timeout=2
    )
    harness.receiver.callback(call.call_connection_id, "RecognizeCompleted")
    snapshots = [
        {p["identifier"]["rawId"]: p["isOnHold"] for p in e["data"]["participants"]}
        for _, e in harness.receiver.events(
            lambda d, e: (
                e.get("type", "").endswith("ParticipantsUpdated")
                and e["data"]["callConnectionId"] == call.call_connection_id
            )
        )
    ]
    assert [(s[caller], s[other]) for s in snapshots] == [(False, False), (True, False), (False, False)]

    connection.play_media_to_all(TextSource(text="Everyone hears this."))
    harness.receiver.callback(call.call_connection_id, "PlayCompleted")
    assert harness.receiver.callback_types(call.call_connection_id).count("ParticipantsUpdated") == 3


def test_an_interrupting_play_cancels_what_runs(harness: Harness) -> None:
    caller = new_phone()
    call = harness.answer([{"raw_id": caller, "answers": ["silence"]}])
    connection = harness.client.get_call_connection(call.call_connection_id)
    connection.start_recognizing_media(
        "dtmf", phone(caller), initial_silence_timeout=10, operation_context="ask"
    )
    connection.play_media_to_all(
        TextSource(text="Urgent announcement."),
        operation_context="urgent",
        interrupt_call_media_operation=True,
    )
    canceled = harness.receiver.callback(call.call_connection_id, "RecognizeCanceled")
    assert canceled["data"]["operationContext"] == "ask"
    assert (
        harness.receiver.callback(call.call_connection_id, "PlayCompleted")["data"]["operationContext"]
        == "urgent"
    )


def test_text_to_speech_needs_a_linked_ai_resource(harness: Harness) -> None:
    caller = new_phone()
    started = harness.start_call([{"raw_id": caller}])
    context = harness.incoming_call(started["server_call_id"])["data"]["incomingCallContext"]
    bare = connected(harness.client.answer_call(context, harness.callback_url()))  # no cognitive endpoint
    with pytest.raises(HttpResponseError) as missing:
        harness.client.get_call_connection(bare.call_connection_id).play_media_to_all(TextSource(text="Hi."))
    assert missing.value.status_code == 405

    started = harness.start_call([{"raw_id": caller}])
    context = harness.incoming_call(started["server_call_id"])["data"]["incomingCallContext"]
    unlinked = connected(
        harness.client.answer_call(
            context,
            harness.callback_url(),
            cognitive_services_endpoint="https://other.cognitiveservices.azure.com/",
        )
    )
    harness.client.get_call_connection(unlinked.call_connection_id).start_recognizing_media(
        "dtmf", phone(caller), play_prompt=TextSource(text="Press 1."), initial_silence_timeout=2
    )
    failed = harness.receiver.callback(unlinked.call_connection_id, "RecognizeFailed")
    assert failed["data"]["resultInformation"]["subCode"] == 8567
    assert failed["data"]["failedPlaySourceIndex"] == 0
    assert SPEECH.startswith("https://")


@pytest.mark.parametrize(
    ("path", "outcome", "sub_code"),
    [
        ("/good.wav", "PlayCompleted", 0),
        ("/stereo.wav", "PlayFailed", 8535),
        ("/cd.wav", "PlayFailed", 8535),
        ("/prompt.mp3", "PlayFailed", 8535),
        ("/missing.wav", "PlayFailed", 8536),
    ],
)
def test_file_prompts_must_be_reachable_mono_16_khz_wav(
    harness: Harness, prompts: str, path: str, outcome: str, sub_code: int
) -> None:
    call = harness.answer([{"raw_id": new_phone()}])
    connection = harness.client.get_call_connection(call.call_connection_id)
    connection.play_media_to_all(FileSource(url=prompts + path), operation_context=path)
    event = harness.receiver.callback(call.call_connection_id, outcome, timeout=8)
    assert event["data"]["operationContext"] == path
    assert event["data"]["resultInformation"]["subCode"] == sub_code


def test_nothing_plays_to_a_teams_user(harness: Harness) -> None:
    teams_user = "8:orgid:11111111-2222-3333-4444-555555555555"
    call = harness.answer([{"raw_id": new_phone()}, {"raw_id": teams_user}])
    connection = harness.client.get_call_connection(call.call_connection_id)
    with pytest.raises(HttpResponseError) as refused:
        connection.play_media(
            TextSource(text="Hello."), [MicrosoftTeamsUserIdentifier("11111111-2222-3333-4444-555555555555")]
        )
    assert refused.value.status_code == 405
    time.sleep(0.1)
    assert "PlayStarted" not in harness.receiver.callback_types(call.call_connection_id)


def test_a_prompt_to_the_calls_own_identity_is_answered_by_nobody(harness: Harness) -> None:
    call = harness.answer([{"raw_id": new_phone(), "answers": ["1"]}])
    connection = harness.client.get_call_connection(call.call_connection_id)
    (own_number, application) = harness.describe(call.server_call_id)["self_identities"]
    connection.start_recognizing_media(
        "dtmf", phone(own_number), play_prompt=TextSource(text="Press 1."), initial_silence_timeout=1
    )
    failed = harness.receiver.callback(call.call_connection_id, "RecognizeFailed", timeout=5)
    assert failed["data"]["resultInformation"]["subCode"] == 8510  # silence: nobody is there to press a key
    assert application.startswith("8:acs:")
