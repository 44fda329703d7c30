"""The composition root: the one place that turns settings into adapters and services and wires them together.

Every service gets what it needs through its constructor; none is changed after it is built. Tests call
``build`` with fakes for the ports they replace.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from recorder.adapters.callback_auth import ACS_CALLBACK_MAX_LIFETIME_SECONDS, CallbackVerifier
from recorder.config.settings import Settings
from recorder.db.engine import make_engine, session_factory
from recorder.db.migrate import schema_problem
from recorder.db.unit_of_work import UNAVAILABLE, UnitOfWork
from recorder.services.calls.agents import Agents
from recorder.services.calls.call_access import CallGrants
from recorder.services.calls.consent_flow import CallService
from recorder.services.calls.dispatcher import Dispatcher
from recorder.services.calls.reconciler import Reconciler
from recorder.services.calls.recording_requests import RecordingRequests
from recorder.services.compliance.access_log import AccessLog
from recorder.services.compliance.anchoring import AnchorScheduler
from recorder.services.compliance.audit_sealer import AuditSealer
from recorder.services.compliance.erasure import Erasures
from recorder.services.compliance.holds import LegalHolds
from recorder.services.compliance.ports import AnchorStore
from recorder.services.ports import CallAutomation, EventPublisher
from recorder.services.publishing.event_log import EventLog
from recorder.services.publishing.publisher import Publisher
from recorder.services.storage.blob_holds import blob_legal_hold
from recorder.services.storage.ports import BlobStore, RecordingSource, StorageError
from recorder.services.storage.register import StoredObserver
from recorder.services.storage.service import StorageService
from recorder.services.tokens.api_keys import ApiKeys
from recorder.services.tokens.console_sessions import ConsoleSessions
from recorder.services.tokens.ports import IdentityProvider
from recorder.services.tokens.user_tokens import TokenService

log = logging.getLogger("recorder.bootstrap")


@dataclass
class ComplianceServices:
    holds: LegalHolds
    erasures: Erasures
    anchors: AnchorStore | None = None
    anchor_scheduler: AnchorScheduler | None = None
    entra: CallbackVerifier | None = None

    def start(self) -> None:
        if self.anchor_scheduler is not None:
            self.anchor_scheduler.start()

    def stop(self) -> None:
        if self.anchor_scheduler is not None:
            self.anchor_scheduler.stop()
        if self.entra is not None:
            self.entra.close()


@dataclass
class RecordingServices:
    requests: RecordingRequests
    events: EventLog
    publisher: Publisher | None

    def start(self) -> None:
        if self.publisher is not None:
            self.publisher.start()

    def stop(self) -> None:
        if self.publisher is not None:
            self.publisher.stop()


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    calls: CallService
    dispatcher: Dispatcher
    verifier: CallbackVerifier
    clock: Callable[[], datetime]
    tokens: TokenService
    access_log: AccessLog[Session]
    keys: ApiKeys
    console_sessions: ConsoleSessions
    grants: CallGrants
    agents: Agents
    compliance: ComplianceServices
    storage: StorageService | None = None
    recordings: RecordingServices | None = None
    eventgrid_verifier: CallbackVerifier | None = None  # Entra ID tokens on Event Grid deliveries, if set
    audit_sealer: AuditSealer | None = None
    reconciler: Reconciler | None = None

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    def schema_problem(self) -> str | None:
        """None when the database is migrated to this release's schema (readiness)."""
        return schema_problem(self.engine)

    def start(self) -> None:
        """Start every background worker."""
        self.dispatcher.start()
        self.compliance.start()
        for worker in (self.audit_sealer, self.reconciler, self.storage, self.recordings):
            if worker is not None:
                worker.start()

    def close(self) -> None:
        if self.reconciler is not None:
            self.reconciler.stop()
        self.dispatcher.stop()
        if self.audit_sealer is not None:
            self.audit_sealer.stop()
        if self.recordings is not None:
            self.recordings.stop()
        if self.storage is not None:
            self.storage.stop()
        self.compliance.stop()
        self.verifier.close()
        if self.eventgrid_verifier is not None:
            self.eventgrid_verifier.close()
        self.engine.dispose()


def callback_url(settings: Settings, call_id: str) -> str:
    return f"{settings.public_url}/webhooks/acs/{call_id}"


def build(
    settings: Settings,
    acs: CallAutomation | None = None,
    verifier: CallbackVerifier | None = None,
    clock: Callable[[], datetime] = utc_now,
    identities: IdentityProvider | None = None,
    topic: EventPublisher | None = None,
) -> Container:
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)

    def uow() -> UnitOfWork:
        return UnitOfWork(sessions)

    acs = acs or real_call_automation(settings)
    publisher = build_publisher(settings, uow, clock, topic)
    events = EventLog(
        publishing=publisher is not None, events_written=publisher.wake if publisher else lambda: None
    )
    storage = build_storage(settings, uow, clock, events=events)
    calls, dispatcher, requests = build_calls(settings, uow, clock, acs, events, storage)
    return Container(
        settings=settings,
        engine=engine,
        sessions=sessions,
        calls=calls,
        dispatcher=dispatcher,
        verifier=verifier or acs_verifier(settings),
        clock=clock,
        tokens=TokenService(
            uow, identities or real_identities(settings), settings.token_lifetime_minutes, clock
        ),
        access_log=AccessLog(uow, clock),
        keys=ApiKeys(uow, clock),
        console_sessions=ConsoleSessions(uow, clock),
        grants=CallGrants(uow, clock),
        agents=Agents(uow, clock),
        compliance=build_compliance(settings, uow, clock, storage),
        storage=storage,
        recordings=RecordingServices(requests, events, publisher),
        eventgrid_verifier=eventgrid_verifier(settings),
        audit_sealer=AuditSealer(uow),
        reconciler=Reconciler(uow, acs, calls, clock, period=settings.calls.reconcile_seconds),
    )


def build_calls(
    settings: Settings,
    uow: Callable[[], UnitOfWork],
    clock: Callable[[], datetime],
    acs: CallAutomation,
    events: EventLog,
    storage: StorageService | None,
) -> tuple[CallService, Dispatcher, RecordingRequests]:
    """The call service, the dispatcher that runs its commands, and recording requests, which queue some."""
    outbox_ready = threading.Event()  # set by whoever queues a command; the dispatcher wakes on it
    calls = CallService(
        uow,
        settings.policy,
        clock,
        commands_queued=outbox_ready.set,
        observers=[events],
        answer_for=settings.calls.answer_for,
        command_lease=timedelta(seconds=settings.outbox_lease_seconds),
    )
    dispatcher = Dispatcher(
        uow,
        acs,
        calls,
        partial(callback_url, settings),
        clock,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
        wakeup=outbox_ready,
        # bring-your-own-storage: start_recording names the call's region container
        recording_destination=storage.recording_destination if storage else lambda call_id: None,
        database_unavailable=UNAVAILABLE,
    )
    return calls, dispatcher, RecordingRequests(uow, calls, clock, outbox_ready.set)


def build_publisher(
    settings: Settings,
    uow: Callable[[], UnitOfWork],
    clock: Callable[[], datetime],
    topic: EventPublisher | None,
) -> Publisher | None:
    if topic is None and settings.events_topic_endpoint:
        from recorder.adapters.event_publisher import build_event_publisher

        topic = build_event_publisher(settings.events_topic_endpoint, settings.events_topic_key)
    return Publisher(uow, topic, clock) if topic is not None else None


def build_compliance(
    settings: Settings,
    uow: Callable[[], UnitOfWork],
    clock: Callable[[], datetime],
    storage: StorageService | None,
) -> ComplianceServices:
    anchors = anchor_store(settings)
    interval = settings.audit.anchor_interval_seconds
    entra = settings.entra
    return ComplianceServices(
        holds=LegalHolds(uow, clock, blob_legal_hold(storage)),
        erasures=Erasures(uow, clock),
        anchors=anchors,
        anchor_scheduler=None if anchors is None else AnchorScheduler(uow, anchors, clock, interval),
        entra=None if entra is None else CallbackVerifier(entra.jwks_url, entra.issuer, entra.audience),
    )


def anchor_store(settings: Settings) -> AnchorStore | None:
    audit = settings.audit
    if not audit.anchoring:
        return None
    from recorder.adapters.audit_anchor import BlobAnchorStore

    return BlobAnchorStore.from_settings(
        audit.anchor_account_url, audit.anchor_container, audit.anchor_connection_string
    )


def acs_verifier(settings: Settings) -> CallbackVerifier:
    return CallbackVerifier(
        settings.callback_jwks_url,
        settings.callback_issuer,
        settings.acs_resource_id,
        max_lifetime_seconds=ACS_CALLBACK_MAX_LIFETIME_SECONDS,
    )


def eventgrid_verifier(settings: Settings) -> CallbackVerifier | None:
    entra = settings.security.eventgrid_entra
    return None if entra is None else CallbackVerifier(entra.jwks_url, entra.issuers, entra.audience)


def real_call_automation(settings: Settings) -> CallAutomation:
    from recorder.adapters.acs import AcsCallAutomation, build_client
    from recorder.adapters.credentials import access_key_and_credential

    key, credential = access_key_and_credential(settings)
    client = build_client(settings.acs_endpoint, key, credential)
    return AcsCallAutomation(client, settings.cognitive_services_endpoint)


def real_identities(settings: Settings) -> IdentityProvider:
    from recorder.adapters.credentials import access_key_and_credential
    from recorder.adapters.identity import AcsIdentities, build_identity_client

    key, credential = access_key_and_credential(settings)
    return AcsIdentities(build_identity_client(settings.acs_endpoint, key, credential))


def build_storage(
    settings: Settings,
    unit_of_work: Callable[[], UnitOfWork],
    clock: Callable[[], datetime],
    *,
    source: bool = True,
    provision: bool = True,
    events: StoredObserver | None = None,
) -> StorageService | None:
    """None when no ``[storage]`` is configured: recording file events are then only logged.

    ``source=False`` (the retention command) builds no ACS client: nothing is downloaded; ``provision=False``
    (the retention command too) creates no container, even for local development. ``events``
    publishes ``recorder.recording.stored`` when a recording is registered.
    """
    storage = settings.storage
    if storage is None:
        return None
    from recorder.adapters.blob_store import AzureBlobStore
    from recorder.adapters.credentials import access_key_and_credential
    from recorder.adapters.recording_download import AcsRecordingSource

    stores: dict[str, BlobStore] = {}
    for name, region in storage.regions.items():
        store = AzureBlobStore(region)
        if provision and region.connection_string:  # local development: make it; real ones are provisioned
            store.ensure_container()
        stores[name] = store
    recordings: RecordingSource = NoRecordingSource()
    if source:
        key, credential = access_key_and_credential(settings)
        recordings = AcsRecordingSource(
            settings.acs_endpoint, key, credential, emulator_mode=settings.emulator_mode
        )
    return StorageService(
        unit_of_work,
        storage,
        stores,
        recordings,
        clock,
        acs_resource_id=settings.acs_resource_id or None,
        events=events,
    )


class NoRecordingSource:
    def read_range(self, url: str, start: int, end: int) -> tuple[int, Iterator[bytes]]:
        raise StorageError("no ACS client in this process", transient=True)

    def read_small(self, url: str, limit: int) -> bytes:
        raise StorageError("no ACS client in this process", transient=True)

    def delete(self, url: str) -> None:
        raise StorageError("no ACS client in this process", transient=True)
