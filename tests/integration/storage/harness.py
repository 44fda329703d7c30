"""The storage service wired to real things: a database, the ACS emulator (over the real SDK) and Azurite."""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from azure.storage.blob import BlobServiceClient, ContainerClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from recorder.adapters.blob_store import AzureBlobStore
from recorder.adapters.recording_download import AcsRecordingSource
from recorder.config.settings import is_loopback
from recorder.config.storage import StorageSettings, load_storage
from recorder.db.engine import make_engine, session_factory
from recorder.db.tables.audit import AuditEntry
from recorder.db.tables.storage import StoredRecording
from recorder.db.unit_of_work import UnitOfWork
from recorder.domain.consent import new_inbound_call
from recorder.emulator import RunningEmulator
from recorder.services.storage.model import RecordingFileEvent
from recorder.services.storage.ports import BlobStore
from recorder.services.storage.service import StorageService
from recorder.web.webhooks.parsing import envelopes
from recorder.web.webhooks.recording_files import recording_file_event
from tests.integration.azurite import Azurite

EU_CALLER = "4:+442071234567"
US_CALLER = "4:+14255550101"


def new_access_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def storage_settings(azurite: Azurite, **extra: Any) -> StorageSettings:
    tag = uuid.uuid4().hex[:8]
    section = {
        "mode": "copy",
        "default_region": "westeurope",
        "block_size_mib": 1,
        "regions": {
            "westeurope": {"container": f"weu-{tag}", "connection_string": azurite.connection_string},
            "eastus": {"container": f"eus-{tag}", "connection_string": azurite.connection_string},
        },
        "routes": [{"caller_prefix": "4:+1", "region": "eastus"}],
        **extra,
    }
    problems: list[str] = []
    settings = load_storage(section, problems, is_loopback)
    assert settings is not None, problems
    return settings


@dataclass
class Harness:
    database_url: str
    emulator: RunningEmulator
    azurite: Azurite
    settings: StorageSettings
    stores: dict[str, BlobStore] = field(default_factory=dict)
    engine: Engine | None = None

    def __post_init__(self) -> None:
        self.engine = make_engine(self.database_url)
        self.sessions = session_factory(self.engine)
        for name, region in self.settings.regions.items():
            store = AzureBlobStore(region)
            store.ensure_container()
            self.stores[name] = store
        source = AcsRecordingSource(
            self.emulator.url, self.emulator.config.access_key, None, emulator_mode=True
        )
        self.service = self.build(source=source)

    def build(self, **overrides: Any) -> StorageService:
        values: dict[str, Any] = {
            "unit_of_work": lambda: UnitOfWork(self.sessions),
            "settings": self.settings,
            "stores": self.stores,
            "source": getattr(self, "service", None) and self.service.source,
            "clock": lambda: datetime.now(UTC),
            "base_backoff": 0.0,
        }
        values.update(overrides)
        return StorageService(**values)

    def close(self) -> None:
        assert self.engine is not None
        self.engine.dispose()

    def add_call(self, caller: str) -> tuple[str, str]:
        call_id, server_call_id = str(uuid.uuid4()), base64.b64encode(secrets.token_bytes(48)).decode()
        with UnitOfWork(self.sessions) as uow:
            decision = new_inbound_call(call_id, server_call_id, "ctx", "en-US")
            uow.calls.add(decision.state, datetime.now(UTC), direction="inbound", caller=caller)
            uow.commit()
        return call_id, server_call_id

    def recording_file(self, server_call_id: str, size: int, recording_id: str = "") -> dict[str, Any]:
        body = {
            "server_call_id": server_call_id,
            "recording_id": recording_id or uuid.uuid4().hex,
            "size": size,
        }
        response = httpx.post(f"{self.emulator.url}/emulator/recording-files", json=body, timeout=30)
        response.raise_for_status()
        return self.file_state(response.json()["document_id"])

    def file_state(self, document_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.emulator.url}/emulator/recording-files/{document_id}", timeout=60)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def rows(self) -> list[StoredRecording]:
        with self.sessions() as session:
            return list(session.scalars(select(StoredRecording).order_by(StoredRecording.id)))

    def audit_actions(self, call_id: str) -> list[str]:
        with self.sessions() as session:
            query = select(AuditEntry.action).where(AuditEntry.call_id == call_id).order_by(AuditEntry.seq)
            return list(session.scalars(query))

    def container(self, region: str) -> ContainerClient:
        service = BlobServiceClient.from_connection_string(self.azurite.connection_string)
        return service.get_container_client(self.settings.regions[region].container)

    def blob_names(self, region: str) -> list[str]:
        return sorted(str(b.name) for b in self.container(region).list_blobs())


def file_event(
    file: dict[str, Any],
    host: str = "https://us-storage.asm.skype.com",
    event_id: str | None = None,
    chunk_index: int = 0,
) -> RecordingFileEvent:
    """The Event Grid delivery ACS would send for ``file``, parsed by the webhook's own parser."""
    base = f"{host}/v1/objects/{file['document_id']}"
    delivery = {
        "id": event_id or str(uuid.uuid4()),
        "topic": "/subscriptions/x/providers/Microsoft.Communication/communicationServices/acs",
        "subject": f"/recording/call/{uuid.uuid4()}/serverCallId/{file['server_call_id']}",
        "eventType": "Microsoft.Communication.RecordingFileStatusUpdated",
        "data": {
            "recordingStorageInfo": {
                "recordingChunks": [
                    {
                        "documentId": file["document_id"],
                        "index": chunk_index,
                        "endReason": "SessionEnded",
                        "contentLocation": f"{base}/content/audio",
                        "metadataLocation": f"{base}/content/acsmetadata",
                        "deleteLocation": base,
                    }
                ]
            },
            "recordingId": file["recording_id"],
            "recordingFormatType": "Wav",
            "recordingContentType": "Audio",
            "recordingChannelType": "Mixed",
        },
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": datetime.now(UTC).isoformat(),
    }
    return recording_file_event(envelopes(delivery, 1)[0])
