"""Chain-head anchors in real Azurite: an append blob per day, and a database rewritten wholesale (every
hash recomputed, so the chain alone verifies) is caught by the anchors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from recorder import bootstrap
from recorder.config.compliance import AuditSettings
from recorder.config.settings import Settings
from recorder.services.compliance import anchoring
from recorder.services.queries import audit_view
from tests import audit_tampering
from tests.integration.azurite import Azurite, start_azurite
from tests.integration.compliance_world import NumberedAcs, record_call
from tests.unit.test_consent import POLICY


@pytest.fixture(scope="module")
def azurite_blob(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    yield from start_azurite(tmp_path_factory.mktemp("anchors-azurite"))


@pytest.fixture
def container(database_url: str, azurite_blob: Azurite) -> Iterator[bootstrap.Container]:
    audit = AuditSettings(
        anchor_connection_string=azurite_blob.connection_string,
        anchor_container=f"anchors-{uuid.uuid4().hex[:12]}",
        anchor_interval_seconds=3600,
    )
    built = bootstrap.build(
        Settings(database_url=database_url, policy=POLICY, audit=audit), acs=NumberedAcs()
    )
    yield built
    built.close()


def verify(container: bootstrap.Container) -> anchoring.AnchoredVerification:
    with container.sessions() as session:
        return audit_view.verification(session, container.compliance.anchors)


def test_the_head_is_anchored_in_a_daily_append_blob(
    container: bootstrap.Container, azurite_blob: Azurite
) -> None:
    record_call(container, 1, ("4:+14255550101",), "one", recorded=True)
    scheduler = container.compliance.anchor_scheduler
    assert scheduler is not None
    head = scheduler.run_once()
    assert head > 0 and scheduler.run_once() == head  # nothing new: no second anchor
    service = BlobServiceClient.from_connection_string(azurite_blob.connection_string)
    blobs = list(service.get_container_client(container.settings.audit.anchor_container).list_blobs())
    assert len(blobs) == 1 and blobs[0].blob_type == "AppendBlob"
    assert blobs[0].name.startswith("anchors/") and blobs[0].name.endswith(".jsonl")
    result = verify(container)
    assert result.chain.ok and result.chain.anchors_checked == 1 and result.anchors_error is None


def test_a_wholesale_rewrite_verifies_alone_but_not_against_the_anchors(
    container: bootstrap.Container, database_url: str
) -> None:
    record_call(container, 1, ("4:+14255550101", "4:+14255550102"), "one", recorded=True)
    scheduler = container.compliance.anchor_scheduler
    assert scheduler is not None
    anchored = scheduler.run_once()
    record_call(container, 2, ("4:+14255550103",), "two", recorded=False)
    anchored_later = scheduler.run_once()
    assert anchored_later > anchored
    audit_tampering.rewrite_chain_from(database_url, 2, {"forged": True})
    with container.sessions() as session:
        assert audit_view.verification(session, None).chain.ok  # the chain alone cannot tell
    result = verify(container)
    assert (result.chain.ok, result.chain.first_bad) == (False, anchored)


def test_an_unreachable_anchor_store_is_reported_not_hidden(database_url: str, tmp_path: Path) -> None:
    audit = AuditSettings(
        anchor_connection_string="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;",
        anchor_container="anchors",
    )
    built = bootstrap.build(
        Settings(database_url=database_url, policy=POLICY, audit=audit), acs=NumberedAcs()
    )
    try:
        result = verify(built)
        assert result.anchors_error is not None and result.as_json()["anchors"] == {
            "configured": True,
            "checked": 0,
            "error": result.anchors_error,
        }
    finally:
        built.close()
