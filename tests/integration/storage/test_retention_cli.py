"""``recorder retention run`` from the command line, on Azurite: with a region's storage down or its container
missing it names the region, exits 3 and changes nothing (no row, no blob, no container created); with
``--json`` it prints its one JSON object on stdout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient
from sqlalchemy import update

from recorder.db.tables.storage import StoredRecording
from recorder.db.unit_of_work import UnitOfWork
from recorder.emulator import RunningEmulator
from tests.integration.azurite import Azurite
from tests.integration.cli_support import files_in, port_in_use, run_cli, table_contents
from tests.integration.storage.harness import US_CALLER, Harness, file_event, storage_settings


@pytest.fixture
def expired(database_url: str, emulator: RunningEmulator, azurite: Azurite) -> Iterator[Harness]:
    """One stored recording in eastus, 31 days old with a 30-day retention."""
    harness = Harness(database_url, emulator, azurite, storage_settings(azurite, retention_days=30))
    call_id, server_call_id = harness.add_call(US_CALLER)
    harness.service.accept(file_event(harness.recording_file(server_call_id, 2000)))
    harness.service.run_until_idle()
    with UnitOfWork(harness.sessions) as uow:
        uow.session.execute(
            update(StoredRecording)
            .where(StoredRecording.call_id == call_id)
            .values(stored_at=datetime.now(UTC) - timedelta(days=31))
        )
        uow.commit()
    yield harness
    harness.close()


def config_file(
    directory: Path, harness: Harness, connection_string: str, eastus_container: str = ""
) -> Path:
    regions = harness.settings.regions
    path = directory / "recorder.toml"
    path.write_text(
        f"""
[storage]
default_region = "westeurope"
retention_days = 30

[storage.regions.westeurope]
container = "{regions["westeurope"].container}"
connection_string = "{connection_string}"

[storage.regions.eastus]
container = "{eastus_container or regions["eastus"].container}"
connection_string = "{connection_string}"
"""
    )
    return path


def containers(azurite: Azurite) -> list[str]:
    return sorted(
        c.name for c in BlobServiceClient.from_connection_string(azurite.connection_string).list_containers()
    )


def test_storage_down_names_the_region_exits_3_and_changes_nothing(
    expired: Harness, azurite: Azurite, tmp_path: Path
) -> None:
    with port_in_use() as port:
        pass  # closed again: nothing answers there
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    down = azurite.connection_string.replace(f":{azurite.port}/", f":{port}/")
    config = config_file(workdir, expired, down)
    before = table_contents(expired.database_url), expired.blob_names("eastus"), containers(azurite)
    env = {"RECORDER_DATABASE_URL": expired.database_url, "RECORDER_CONFIG": str(config)}

    result = run_cli("retention", "run", cwd=workdir, env=env)

    container = expired.settings.regions["westeurope"].container
    where = f"http://127.0.0.1:{port}/devstoreaccount1/{container}"
    line = f"unreachable: storage region westeurope: {where}: storage unreachable: ServiceRequestError"
    assert (result.returncode, result.stderr, result.stdout) == (3, line + "\n", "")
    assert (table_contents(expired.database_url), expired.blob_names("eastus"), containers(azurite)) == before
    assert files_in(workdir) == {"recorder.toml": config.read_bytes()}


def test_a_missing_container_is_reported_and_not_created(
    expired: Harness, azurite: Azurite, tmp_path: Path
) -> None:
    config = config_file(tmp_path, expired, azurite.connection_string, eastus_container="never-created")
    before = table_contents(expired.database_url), containers(azurite)
    env = {"RECORDER_DATABASE_URL": expired.database_url, "RECORDER_CONFIG": str(config)}

    result = run_cli("retention", "run", "--json", cwd=tmp_path, env=env)

    detail = f"{azurite.account_url}/never-created: the container does not exist"
    assert (result.returncode, result.stderr) == (3, f"unreachable: storage region eastus: {detail}\n")
    assert json.loads(result.stdout) == {
        "ok": False,
        "error": "unreachable",
        "what": "storage region eastus",
        "detail": detail,
    }
    assert (table_contents(expired.database_url), containers(azurite)) == before
    assert "never-created" not in containers(azurite)


def test_retention_run_json_prints_its_report_on_stdout(
    expired: Harness, azurite: Azurite, tmp_path: Path
) -> None:
    config = config_file(tmp_path, expired, azurite.connection_string)
    env = {"RECORDER_DATABASE_URL": expired.database_url, "RECORDER_CONFIG": str(config)}

    result = run_cli("retention", "run", "--json", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"ok": True, "deleted": 1, "held": 0, "examined": 1, "errors": []}
    assert [row.state for row in expired.rows()] == ["deleted"]
    assert expired.blob_names("eastus") == []
