"""Operations over HTTP and the database: /metrics, request ids, draining, readiness, and the outbox claim
that lets several instances share one database (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text
from starlette.applications import Starlette

from recorder import bootstrap
from recorder.config.operations import OperationsSettings
from recorder.config.settings import Settings
from recorder.db.tables.calls import OutboxCommand
from recorder.db.unit_of_work import UnitOfWork
from recorder.domain import effects as fx
from recorder.emulator.server import serve_in_thread
from recorder.services.calls.consent_flow import IncomingCall
from recorder.web.app import create_app
from tests.integration.compliance_world import NumberedAcs
from tests.unit.test_consent import POLICY

TOKEN = "metrics-token-0123456789"


@pytest.fixture
def container(database_url: str) -> Iterator[bootstrap.Container]:
    settings = Settings(
        database_url=database_url,
        policy=POLICY,
        eventgrid_secret="s" * 24,
        operations=OperationsSettings(metrics_token=TOKEN, dispatcher_stall_seconds=30),
    )
    built = bootstrap.build(settings, acs=NumberedAcs())
    yield built
    built.engine.dispose()


class Client(httpx.Client):
    app: Starlette


@contextmanager
def served(app: Starlette) -> Iterator[Client]:
    """The app behind a real uvicorn (lifespan included) in a thread, and a client for it."""
    server = serve_in_thread(app)
    try:
        with Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as http:
            http.app = app
            yield http
    finally:
        server.stop()


@pytest.fixture
def client(container: bootstrap.Container) -> Iterator[Client]:
    with served(create_app(container, run_dispatcher=False)) as http:
        yield http


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        if sample == wanted or _normalise(sample) == wanted:
            return float(value)
    return 0.0


def _normalise(sample: str) -> str:
    if "{" not in sample:
        return sample
    name, _, rest = sample.partition("{")
    pairs = sorted(p for p in rest.rstrip("}").split(",") if p)
    return name + "{" + ",".join(pairs) + "}"


def test_metrics_need_the_configured_token(client: Client) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456"}).status_code == 401
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE recorder_events_received_total counter" in response.text


def test_metrics_are_404_without_a_token(database_url: str) -> None:
    built = bootstrap.build(Settings(database_url=database_url, policy=POLICY), acs=NumberedAcs())
    try:
        with served(create_app(built, run_dispatcher=False)) as test_client:
            response = test_client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        built.engine.dispose()
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_outbox_gauges_are_read_from_the_database_at_scrape_time(
    client: Client, container: bootstrap.Container
) -> None:
    def scrape() -> str:
        return client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text

    before = scrape()
    assert metric(before, "recorder_outbox_depth") == 0
    assert metric(before, "recorder_database_up") == 1
    container.calls.incoming_call(
        IncomingCall("eg-gauge", "server-gauge", "ctx", "4:+14255550101", None, None)
    )
    after = scrape()
    assert metric(after, "recorder_outbox_depth") == 1  # the AnswerCall command, not yet dispatched
    assert metric(after, "recorder_outbox_oldest_pending_age_seconds") >= 0


def test_webhook_auth_failures_and_rejected_events_are_counted(client: Client) -> None:
    def scrape() -> str:
        return client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text

    before = scrape()
    assert client.post("/webhooks/eventgrid?secret=wrong", json=[]).status_code == 401
    assert client.post("/webhooks/acs/some-call", json=[]).status_code == 401
    assert client.post(f"/webhooks/eventgrid?secret={'s' * 24}", content=b"{not json").status_code == 400
    after = scrape()
    for channel in ("eventgrid", "acs"):
        moved = metric(after, "recorder_webhook_auth_failures_total", channel=channel) - metric(
            before, "recorder_webhook_auth_failures_total", channel=channel
        )
        assert moved == 1
    rejected = {"source": "eventgrid", "type": "unparsed", "outcome": "rejected"}
    assert metric(after, "recorder_events_received_total", **rejected) == 1 + metric(
        before, "recorder_events_received_total", **rejected
    )


def test_a_request_id_is_echoed_or_made(client: Client) -> None:
    given = client.get("/healthz", headers={"X-Request-Id": "abc-123.x"})
    assert given.headers["x-request-id"] == "abc-123.x"
    made = client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"}).headers["x-request-id"]
    assert made != "bad id\twith spaces" and len(made) == 32
    assert client.get("/healthz").headers["x-request-id"] != made


def test_while_draining_webhooks_and_readiness_answer_503_but_the_api_still_answers(client: Client) -> None:
    client.app.state.drain.begin()
    response = client.post(f"/webhooks/eventgrid?secret={'s' * 24}", json=[])
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "draining"
    assert response.headers["retry-after"] == "5"
    assert client.post("/webhooks/acs/x", json=[]).status_code == 503
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["accepting_events"] is False
    assert client.get("/healthz").status_code == 200


def test_readiness_fails_when_the_dispatcher_loop_has_stalled(database_url: str) -> None:
    now = [datetime.now(UTC)]  # the injected clock, moved by hand below
    settings = Settings(
        database_url=database_url,
        policy=POLICY,
        operations=OperationsSettings(dispatcher_stall_seconds=30),
    )
    built = bootstrap.build(settings, acs=NumberedAcs(), clock=lambda: now[0])
    try:
        with served(create_app(built)) as test_client:  # the lifespan starts the dispatcher
            deadline = datetime.now(UTC) + timedelta(seconds=20)
            while built.dispatcher.last_loop_at is None and datetime.now(UTC) < deadline:
                threading.Event().wait(0.05)
            fresh = test_client.get("/readyz")
            built.dispatcher.stop()  # the loop stops coming round...
            now[0] += timedelta(seconds=31)  # ...and its last pass grows old
            built.dispatcher.start()  # a live thread whose loop has not run since
            stalled = test_client.get("/readyz")
    finally:
        built.engine.dispose()
    assert fresh.status_code == 200, fresh.json()
    assert stalled.status_code == 503
    assert stalled.json()["checks"]["dispatcher"] is False


def test_readiness_says_why_when_the_schema_changes_under_a_running_instance(database_url: str) -> None:
    from recorder.db.migrate import downgrade, shipped_heads, upgrade

    built = bootstrap.build(Settings(database_url=database_url, policy=POLICY), acs=NumberedAcs())
    try:
        with served(create_app(built, run_dispatcher=False)) as test_client:
            current = test_client.get("/readyz").json()
            downgrade(database_url, "0009")  # what an older release's instance would find
            older = test_client.get("/readyz")
            upgrade(database_url)
            again = test_client.get("/readyz").json()
    finally:
        built.engine.dispose()
    assert current["checks"]["database"] is True and "database" not in current.get("reasons", {})
    assert older.status_code == 503
    assert older.json()["checks"]["database"] is False
    head = ", ".join(shipped_heads())
    assert older.json()["reasons"] == {"database": f"schema at 0009, needs {head}: run recorder db upgrade"}
    assert again["checks"]["database"] is True and "reasons" not in again


def _queue(container: bootstrap.Container, name: str, commands: int, now: datetime) -> str:
    """A call with its AnswerCall command, plus ``commands - 1`` more queued behind it."""
    _, call_id = container.calls.incoming_call(IncomingCall(f"eg-{name}", name, "ctx", None, None, None))
    assert call_id is not None
    with container.unit_of_work() as uow:
        for _ in range(commands - 1):
            uow.outbox.add(call_id, fx.HangUp("test"), now)
        uow.commit()
    return call_id


def test_a_claim_takes_one_command_per_call_and_never_the_second_while_the_first_is_held(
    container: bootstrap.Container,
) -> None:
    now = datetime.now(UTC)
    lease = timedelta(seconds=30)
    calls = sorted(_queue(container, f"call-{n}", 2, now) for n in range(3))
    with container.unit_of_work() as uow:
        first = uow.outbox.claim_ready(now + timedelta(seconds=1), 10, lease)
        uow.commit()
    assert sorted(call for _, call in first) == calls
    with container.unit_of_work() as uow:
        assert uow.outbox.claim_ready(now, 10, lease) == []  # the first commands are leased: nothing ready
        uow.outbox.finish(first[0][0], "done", now)
        uow.commit()
    with container.unit_of_work() as uow:
        second = uow.outbox.claim_ready(now, 10, lease)
        uow.commit()
        kinds = uow.session.scalars(select(OutboxCommand.kind).where(OutboxCommand.id == second[0][0])).all()
    assert [call for _, call in second] == [first[0][1]]
    assert kinds == ["HangUp"]
    with container.unit_of_work() as uow:  # an expired lease (a crashed instance) makes a command ready again
        again = uow.outbox.claim_ready(now + lease + timedelta(seconds=2), 10, lease)
    assert len(again) == 3


def test_the_call_service_claims_only_its_calls_next_command_and_nothing_a_claim_holds(
    container: bootstrap.Container,
) -> None:
    now = datetime.now(UTC) + timedelta(seconds=1)
    lease = timedelta(seconds=30)
    call, other = _queue(container, "next-1", 2, now), _queue(container, "next-2", 1, now)
    with container.unit_of_work() as uow:
        head = uow.outbox.claim_next(call, now, lease)
        assert head is not None and uow.outbox.claim_next(call, now, lease) is None  # leased: not twice
        uow.commit()
    with container.unit_of_work() as uow:  # the loop's claim skips it, and takes the other call's head
        assert [c for _, c in uow.outbox.claim_ready(now, 10, lease)] == [other]
        uow.commit()
    with container.unit_of_work() as uow:
        assert uow.outbox.claim_next(other, now, lease) is None  # what the loop holds is not taken
        uow.outbox.finish(head, "done", now)
        second = uow.outbox.claim_next(call, now, lease)
        uow.commit()
        kinds = uow.session.scalars(select(OutboxCommand.kind).where(OutboxCommand.id == second)).all()
    assert second not in (None, head) and kinds == ["HangUp"]
    with container.unit_of_work() as uow:  # a retry's backoff: not before its time
        uow.outbox.retry_later(str(second), now + timedelta(seconds=5), "later")
        assert uow.outbox.claim_next(call, now, lease) is None
        assert uow.outbox.claim_next(call, now + timedelta(seconds=6), lease) == second


@pytest.fixture
def postgres_container(postgres_server: str) -> Iterator[bootstrap.Container]:
    from recorder.db.migrate import upgrade
    from tests.conftest import drop_postgres_database, fresh_postgres_database

    url, name = fresh_postgres_database(postgres_server)
    upgrade(url)
    built = bootstrap.build(Settings(database_url=url, policy=POLICY), acs=NumberedAcs())
    yield built
    built.engine.dispose()
    drop_postgres_database(postgres_server, name)


@pytest.mark.postgres
def test_concurrent_claims_on_postgresql_skip_each_others_rows(
    postgres_container: bootstrap.Container,
) -> None:
    container = postgres_container
    now = datetime.now(UTC) + timedelta(seconds=1)
    for n in range(6):
        _queue(container, f"pg-{n}", 1, now)
    holder = UnitOfWork(container.sessions).__enter__()
    try:
        held = holder.outbox.claim_ready(now, 3, timedelta(seconds=30))  # rows locked, not yet committed
        assert len(held) == 3
        with container.unit_of_work() as other:  # does not wait for the holder's locks: it skips them
            other.session.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting would fail, not hang
            taken = other.outbox.claim_ready(now, 10, timedelta(seconds=30))
            other.commit()
        assert len(taken) == 3
        assert not {c for c, _ in held} & {c for c, _ in taken}
        holder.commit()
    finally:
        holder.__exit__(None, None, None)
    with container.unit_of_work() as uow:
        attempts = uow.session.scalars(select(OutboxCommand.attempts)).all()
    assert sorted(attempts) == [1] * 6
