"""Wires settings to adapters and services. Tests call ``build`` with fakes for the ports they replace."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from recorder.adapters.callback_auth import ACS_CALLBACK_MAX_LIFETIME_SECONDS, CallbackVerifier
from recorder.config.settings import Settings
from recorder.db.engine import make_engine, session_factory
from recorder.db.unit_of_work import UnitOfWork
from recorder.services.calls.consent_flow import CallService
from recorder.services.calls.dispatcher import Dispatcher
from recorder.services.calls.reconciler import Reconciler
from recorder.services.compliance.audit_sealer import AuditSealer
from recorder.services.compliance.wiring import ComplianceServices, build_compliance
from recorder.services.ports import CallAutomation, EventPublisher
from recorder.services.publishing.wiring import RecordingServices, build_recordings
from recorder.services.storage.service import StorageService
from recorder.services.storage.wiring import build_storage
from recorder.services.tokens.user_tokens import IdentityProvider, TokenService

log = logging.getLogger("recorder.bootstrap")


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
    compliance: ComplianceServices = field(default_factory=ComplianceServices)
    storage: StorageService | None = None
    recordings: RecordingServices | None = None
    eventgrid_verifier: CallbackVerifier | None = None  # Entra ID tokens on Event Grid deliveries, if set
    audit_sealer: AuditSealer | None = None
    reconciler: Reconciler | None = None

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

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

    calls = CallService(uow, settings.policy, clock, answer_for=settings.calls.answer_for)
    acs = acs or real_call_automation(settings)
    dispatcher = Dispatcher(
        uow,
        acs,
        calls,
        partial(callback_url, settings),
        clock,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
    )
    calls.commands_queued = dispatcher.wake
    recordings = build_recordings(settings, uow, calls, dispatcher.wake, clock, topic)
    storage = build_storage(settings, uow, clock, events=recordings.events)
    if storage is not None:  # bring-your-own-storage: start_recording names the call's region container
        dispatcher.recording_destination = storage.recording_destination
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
        compliance=build_compliance(settings, sessions, clock),
        storage=storage,
        recordings=recordings,
        eventgrid_verifier=eventgrid_verifier(settings),
        audit_sealer=AuditSealer(uow),
        reconciler=Reconciler(uow, acs, calls, clock, period=settings.calls.reconcile_seconds),
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
