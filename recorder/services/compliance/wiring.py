"""The compliance part of the Container: anchor store and scheduler, Entra ID verifier, the hold hook."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from recorder.adapters.callback_auth import CallbackVerifier
from recorder.config.settings import Settings
from recorder.services.compliance.anchoring import AnchorScheduler, AnchorStore
from recorder.services.compliance.holds import BlobHold


@dataclass
class ComplianceServices:
    anchors: AnchorStore | None = None
    anchor_scheduler: AnchorScheduler | None = None
    entra: CallbackVerifier | None = None
    # Sets the Blob legal hold on a call's stored recordings. Used only when the storage service has no
    # apply_blob_legal_hold(container, call_id, on) of its own; None: holds live in the database only.
    blob_legal_hold: BlobHold | None = None

    def start(self) -> None:
        if self.anchor_scheduler is not None:
            self.anchor_scheduler.start()

    def stop(self) -> None:
        if self.anchor_scheduler is not None:
            self.anchor_scheduler.stop()
        if self.entra is not None:
            self.entra.close()


def build_compliance(
    settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], datetime]
) -> ComplianceServices:
    services = ComplianceServices(anchors=anchor_store(settings))
    if services.anchors is not None:
        interval = settings.audit.anchor_interval_seconds
        services.anchor_scheduler = AnchorScheduler(sessions, services.anchors, clock, interval)
    if settings.entra is not None:
        services.entra = CallbackVerifier(
            settings.entra.jwks_url, settings.entra.issuer, settings.entra.audience
        )
    return services


def anchor_store(settings: Settings) -> AnchorStore | None:
    audit = settings.audit
    if not audit.anchoring:
        return None
    from recorder.adapters.audit_anchor import BlobAnchorStore

    return BlobAnchorStore.from_settings(
        audit.anchor_account_url, audit.anchor_container, audit.anchor_connection_string
    )
