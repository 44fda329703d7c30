"""Exposure from what the call service stored, on SQLite and PostgreSQL: presence by ACS's event times
(migration 0014's triggers), recording segments, the ledger; and an erasure leaves no raw id behind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from recorder.db.engine import make_engine, session_factory
from recorder.db.tables.presence import ParticipantPresence
from recorder.db.tables.storage import StoredRecording
from recorder.db.unit_of_work import UnitOfWork
from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.services.calls.consent_flow import CallService, IncomingCall
from recorder.services.calls.dispatcher import Dispatcher
from recorder.services.queries import calls_view, story
from recorder.services.queries import ledger as queries
from recorder.services.queries.compliance import CallFilter, search_calls
from recorder.services.queries.numbers import partial
from tests.integration.compliance_world import NumberedAcs
from tests.integration.test_call_service_db import Clock, drain
from tests.unit.test_consent import POLICY

A, B = "4:+14255550101", "4:+442071234567"


@pytest.fixture
def service(database_url: str) -> Iterator[tuple[CallService, Dispatcher, UnitOfWork]]:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    clock = Clock()
    calls = CallService(lambda: UnitOfWork(sessions), POLICY, clock)
    dispatcher = Dispatcher(
        lambda: UnitOfWork(sessions), NumberedAcs(), calls, lambda c: f"https://x/{c}", clock, base_backoff=0
    )
    yield calls, dispatcher, UnitOfWork(sessions)
    dispatcher.stop()
    engine.dispose()


def late_joiner(calls: CallService, dispatcher: Dispatcher, t0: datetime, n: int = 1, b: str = B) -> str:
    """A agrees and is recorded; B joins at t0+5 s by ACS's clock (the callback arrives 40 ms later), ACS
    reports the pause at t0+5.065 s; B agrees and recording resumes. The call is ``conn-<n>``."""

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    _, call_id = calls.incoming_call(IncomingCall(f"eg-{n}", f"server-{n}", "ctx", A, None, None))
    assert call_id is not None
    drain(dispatcher)
    calls.apply(call_id, f"c{n}", "CallConnected", ev.CallConnected(at(0), f"conn-{n}"))
    calls.apply(call_id, f"p1-{n}", "ParticipantsUpdated", ev.ParticipantsUpdated(at(0.1), 1, (A,), at(0)))
    drain(dispatcher)
    calls.apply(
        call_id,
        f"r1-{n}",
        "RecognizeCompleted",
        ev.RecognizeCompleted(at(2), fx.consent_context(A, 1), ("one",)),
    )
    drain(dispatcher)
    calls.apply(
        call_id, f"s1-{n}", "RecordingStateChanged", ev.RecordingStateChanged(at(2.2), "rec-1", True, at(2.1))
    )
    joined = ev.ParticipantsUpdated(at(5.04), 2, (A, b), at(5))
    calls.apply(call_id, f"p2-{n}", "ParticipantsUpdated", joined)
    drain(dispatcher)
    paused = ev.RecordingStateChanged(at(5.1), "rec-1", False, at(5.065))
    calls.apply(call_id, f"s2-{n}", "RecordingStateChanged", paused)
    drain(dispatcher)
    calls.apply(
        call_id,
        f"r2-{n}",
        "RecognizeCompleted",
        ev.RecognizeCompleted(at(7), fx.consent_context(b, 1), ("one",)),
    )
    drain(dispatcher)
    calls.apply(
        call_id, f"s3-{n}", "RecordingStateChanged", ev.RecordingStateChanged(at(7.2), "rec-1", True, at(7.1))
    )
    return call_id


def test_a_late_joiners_exposure_is_measured_from_acs_times(
    service: tuple[CallService, Dispatcher, UnitOfWork],
) -> None:
    calls, dispatcher, uow = service
    t0 = datetime.now(UTC) - timedelta(minutes=1)
    call_id = late_joiner(calls, dispatcher, t0)
    with uow:
        presence = uow.session.scalars(select(ParticipantPresence).order_by(ParticipantPresence.id)).all()
        assert [(p.present, p.at) for p in presence] == [(True, t0), (True, t0 + timedelta(seconds=5))]
        found = story.exposures(uow.session, [call_id])[call_id]
        assert found is not None
        assert found.ms_of(A) == 0 and found.ms_of(B) == pytest.approx(65)
        timeline = queries.call_timeline(uow.session, "conn-1")
        assert timeline is not None
        assert timeline["exposure"]["total_ms"] == 65 and timeline["exposure"]["participants"] == {
            A: 0,
            B: 65,
        }
        items = queries.consents(uow.session, queries.LedgerFilter(participant=B), None, 10)["items"]
        assert [i["exposure_ms"] for i in items] == [65]


def test_a_participant_leaving_is_recorded_at_the_time_acs_reported_it(
    service: tuple[CallService, Dispatcher, UnitOfWork],
) -> None:
    calls, dispatcher, uow = service
    t0 = datetime.now(UTC) - timedelta(minutes=1)
    call_id = late_joiner(calls, dispatcher, t0)
    left = ev.ParticipantsUpdated(t0 + timedelta(seconds=9.05), 3, (A,), t0 + timedelta(seconds=9))
    calls.apply(call_id, "p3", "ParticipantsUpdated", left)
    with uow:
        last = uow.session.scalars(
            select(ParticipantPresence).order_by(ParticipantPresence.id.desc())
        ).first()
        assert last is not None and (last.present, last.at) == (False, t0 + timedelta(seconds=9))


def test_everyone_leaves_when_the_call_ends(service: tuple[CallService, Dispatcher, UnitOfWork]) -> None:
    calls, dispatcher, uow = service
    t0 = datetime.now(UTC) - timedelta(minutes=1)
    call_id = late_joiner(calls, dispatcher, t0)
    calls.apply(call_id, "end", "CallDisconnected", ev.CallDisconnected(t0 + timedelta(seconds=10)))
    with uow:
        rows = uow.session.scalars(select(ParticipantPresence).order_by(ParticipantPresence.id)).all()
        ended = [r.at for r in rows if not r.present]
        assert len(ended) == 2 and all(at > t0 + timedelta(seconds=5) for at in ended)
        found = story.exposures(uow.session, [call_id])[call_id]
        assert found is not None and found.ms_of(B) == pytest.approx(65)


def test_the_calls_view_filters_by_region_part_of_a_number_and_pages_with_a_total(
    service: tuple[CallService, Dispatcher, UnitOfWork],
) -> None:
    calls, dispatcher, uow = service
    t0 = datetime.now(UTC) - timedelta(minutes=1)
    ids = [late_joiner(calls, dispatcher, t0, n=n, b=f"4:+44207123456{n}") for n in range(1, 4)]
    now = datetime.now(UTC)
    with uow:
        uow.session.add(stored_recording(ids[0], "uksouth", now))
        uow.session.commit()
        found = calls_view.list_calls(uow.session, calls_view.CallsFilter(region="uksouth"), 1)
        assert [(c["call_connection_id"], c["regions"]) for c in found["items"]] == [("conn-1", ["uksouth"])]
        everyone = calls_view.list_calls(uow.session, calls_view.CallsFilter(), 2, per_page=2)
        assert (everyone["total"], everyone["pages"], len(everyone["items"])) == (3, 2, 1)
        query = partial("71234562")
        found = calls_view.list_calls(uow.session, calls_view.CallsFilter(participant=query), 1)
        assert [c["call_connection_id"] for c in found["items"]] == ["conn-2"]
        exposed = calls_view.list_calls(uow.session, calls_view.CallsFilter(exposed=True), 1, per_page=2)
        assert exposed["total"] == 3 and {c["exposure_ms"] for c in exposed["items"]} == {65}
        api = search_calls(uow.session, CallFilter(region="uksouth", participant="4:+442071234561"), None, 10)
        assert [c["call_connection_id"] for c in api["items"]] == ["conn-1"]


def stored_recording(call_id: str, region: str, now: datetime) -> StoredRecording:
    return StoredRecording(
        call_id=call_id,
        server_call_id="server",
        recording_id=f"rec-{call_id}",
        chunk_index=0,
        document_id="doc",
        mode="copy",
        region=region,
        account_url="https://x.blob.core.windows.net",
        container="recordings",
        blob_name="b",
        metadata_blob="m",
        content_location="https://x/content",
        state="stored",
        event_id=f"ev-{call_id}",
        available_at=now,
        created_at=now,
        updated_at=now,
        stored_at=now,
    )
