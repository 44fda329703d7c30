"""Our adapters through the real SDKs against the emulator: connect_call, create_call, and the Event Grid
topic with EventGridPublisherClient. Plus the event publisher on real SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from azure.communication.callautomation import CallAutomationClient
from azure.core.credentials import AzureKeyCredential
from sqlalchemy import select

from recorder.adapters.acs import AcsCallAutomation
from recorder.adapters.event_publisher import EventGridPublisher
from recorder.db.engine import make_engine, session_factory
from recorder.db.tables.recording_requests import OutgoingEventRow
from recorder.db.unit_of_work import UnitOfWork
from recorder.domain.consent import new_connected_call
from recorder.domain.published import OutgoingEvent
from recorder.emulator import EmulatorConfig, RunningEmulator, start_emulator
from recorder.services.ports import AcsError, PublishError
from recorder.services.publishing.event_log import EventLog
from recorder.services.publishing.publisher import Publisher

TOPIC_KEY = "emulated-topic-key-0123456789"
CALLBACK = "http://127.0.0.1:9/callbacks/x"  # nothing listens: the emulator's callbacks just fail


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[RunningEmulator, AcsCallAutomation, httpx.Client]]:
    key = base64.b64encode(os.urandom(32)).decode()
    running = start_emulator(EmulatorConfig(access_key=key, resource_id="r", events_topic_key=TOPIC_KEY))
    control = httpx.Client(base_url=running.url, trust_env=False, timeout=10.0)
    client = CallAutomationClient(running.url, AzureKeyCredential(key))
    try:
        yield running, AcsCallAutomation(client), control
    finally:
        client.close()
        control.close()
        running.stop()


def ongoing(control: httpx.Client, raw_id: str) -> str:
    body = {"from": raw_id, "to": "4:+18005550100", "deliver_incoming_call": False}
    response = control.post("/emulator/calls", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["server_call_id"])


def test_connect_call_joins_an_ongoing_call_once_per_request_id(
    emulator: tuple[RunningEmulator, AcsCallAutomation, httpx.Client],
) -> None:
    _, acs, control = emulator
    server_call_id = ongoing(control, "4:+14255550901")
    request_id = str(uuid.uuid4())
    # a retry of the same command carries the first attempt's time, as the dispatcher's retries do (left to
    # the SDK, each attempt is stamped anew and two attempts across a second boundary differ: ACS refuses it)
    sent = datetime.now(UTC)
    first = acs.connect_call(server_call_id, CALLBACK, request_id, first_sent=sent)
    assert acs.connect_call(server_call_id, CALLBACK, request_id, first_sent=sent) == first
    call = control.get(f"/emulator/calls/{server_call_id}").json()
    assert call["call_connection_id"] == first.call_connection_id
    # answeredBy and answeredFor: the application and the number called, as ACS lists them in the roster
    assert set(first.own_identities) == set(call["self_identities"])
    connects = [r for r in call["requests"] if r["operation"] == "connect_call"]
    assert [r["repeat"] for r in connects] == [False, True]


def test_connect_call_to_a_call_that_does_not_exist_is_a_permanent_404(
    emulator: tuple[RunningEmulator, AcsCallAutomation, httpx.Client],
) -> None:
    _, acs, _ = emulator
    with pytest.raises(AcsError) as refused:
        acs.connect_call("bm8tc3VjaC1jYWxs", CALLBACK, str(uuid.uuid4()))
    assert refused.value.status == 404
    assert not refused.value.transient


def test_create_call_rings_the_target_from_the_source_caller_id(
    emulator: tuple[RunningEmulator, AcsCallAutomation, httpx.Client],
) -> None:
    _, acs, control = emulator
    placed = acs.create_call("4:+14255550902", "+18005550199", CALLBACK, str(uuid.uuid4()))
    call = control.get(f"/emulator/calls/{placed.server_call_id}").json()
    assert call["call_connection_id"] == placed.call_connection_id
    assert (call["direction"], call["from"], call["to"]) == ("outbound", "4:+18005550199", "4:+14255550902")
    assert "4:+18005550199" in placed.own_identities  # the number it calls from is the service


def sample(n: int, source: str = "/recorder/calls/s-1", at: datetime | None = None) -> list[OutgoingEvent]:
    at = at or datetime.now(UTC)
    return [
        OutgoingEvent(str(uuid.uuid4()), "recorder.consent.granted", source, f"e/{i}", at, {"sequence": i})
        for i in range(1, n + 1)
    ]


def test_the_topic_receives_cloudevents_from_the_eventgrid_sdk_exactly(
    emulator: tuple[RunningEmulator, AcsCallAutomation, httpx.Client],
) -> None:
    running, _, control = emulator
    source = f"/recorder/calls/{uuid.uuid4()}"
    at = datetime.now(UTC).replace(microsecond=0)
    events = sample(3, source, at)
    EventGridPublisher(f"{running.url}/api/events", TOPIC_KEY).publish(events)
    received = control.get("/emulator/published", params={"source": source}).json()["events"]
    assert [(e["id"], e["type"], e["subject"], e["data"]) for e in received] == [
        (e.id, e.type, e.subject, e.data) for e in events
    ]
    assert all(
        e["specversion"] == "1.0" and e["time"].startswith(at.strftime("%Y-%m-%dT%H:%M:%S")) for e in received
    )


def test_a_wrong_key_or_a_topic_that_is_down_is_a_publish_error(
    emulator: tuple[RunningEmulator, AcsCallAutomation, httpx.Client],
) -> None:
    running, _, control = emulator
    with pytest.raises(PublishError, match="401"):
        EventGridPublisher(f"{running.url}/api/events", "wrong-key").publish(sample(1))
    control.post("/emulator/topic", json={"available": False})
    try:
        with pytest.raises(PublishError, match="503"):
            EventGridPublisher(f"{running.url}/api/events", TOPIC_KEY).publish(sample(1))
    finally:
        control.post("/emulator/topic", json={"available": True})


class FlakyTopic:
    """Our own port, faked: refuses while ``down``, records what it took."""

    def __init__(self) -> None:
        self.down = False
        self.taken: list[OutgoingEvent] = []
        self.calls = 0

    def publish(self, events: Sequence[OutgoingEvent]) -> None:
        self.calls += 1
        if self.down:
            raise PublishError("the topic answered 503")
        self.taken.extend(events)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)  # frozen at the start; tests move it by hand

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(database_url: str) -> Iterator[tuple[Any, Clock]]:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    yield (lambda: UnitOfWork(sessions)), Clock()
    engine.dispose()


def add_call_with_events(uow_factory: Any, clock: Clock, n: int) -> str:
    call_id = str(uuid.uuid4())
    log = EventLog(publishing=True)
    with uow_factory() as uow:
        state = new_connected_call(call_id, f"server-{call_id}", "en-US").state
        uow.calls.add(state, clock(), direction="connected")
        for i in range(n):
            log.add(uow.events, state, "consent.granted", clock(), {"participant": f"4:+1{i}"}, clock())
        uow.commit()
    return call_id


def test_events_go_out_in_order_and_an_outage_only_delays_them(world: tuple[Any, Clock]) -> None:
    uow_factory, clock = world
    topic = FlakyTopic()
    publisher = Publisher(uow_factory, topic, clock, batch=2, base_backoff=1.0, max_backoff=4.0, workers=2)
    try:
        first = add_call_with_events(uow_factory, clock, 3)
        topic.down = True
        assert publisher.run_once() == 0
        assert publisher.backlog()[0] == 3
        # backing off: nothing is tried again before its time, however often the loop runs
        calls = topic.calls
        assert publisher.run_once() == 0 and topic.calls == calls
        for _ in range(6):  # unbounded retries; the delay doubles up to its cap
            clock.now += timedelta(seconds=4)
            assert publisher.run_once() == 0
        topic.down = False
        second = add_call_with_events(uow_factory, clock, 1)
        assert publisher.run_once() == 1  # the new call is not held up by the first call's backoff
        clock.now += timedelta(seconds=4)
        while publisher.run_once():
            pass
        by_call: dict[str, list[int]] = {}
        for e in topic.taken:
            by_call.setdefault(e.data["call_id"], []).append(e.data["sequence"])
        assert by_call == {first: [1, 2, 3], second: [1]}
        assert publisher.backlog() == (0, 0.0)
        with uow_factory() as uow:
            rows = uow.session.scalars(
                select(OutgoingEventRow)
                .where(OutgoingEventRow.call_id == first)
                .order_by(OutgoingEventRow.call_seq)
            ).all()
            assert {r.status for r in rows} == {"published"}
            assert rows[0].attempts == 8  # 7 refusals, then taken
    finally:
        publisher.stop()
