"""The [storage] settings: every problem named at once, and one place that picks a call's region."""

from __future__ import annotations

from pathlib import Path

import pytest

from recorder.config.settings import ConfigError, is_loopback, load_settings
from recorder.config.storage import StorageMode, choose_region, load_storage

GOOD = """
[storage]
mode = "copy"
default_region = "westeurope"

[storage.regions.westeurope]
account_url = "https://contosoweu.blob.core.windows.net"
container = "recordings"

[storage.regions.eastus]
account_url = "https://contosoeus.blob.core.windows.net"
container = "recordings"
retention_days = 7

[[storage.routes]]
caller_prefix = "4:+1"
region = "eastus"

[[storage.routes]]
callee_prefix = "4:+49"
region = "westeurope"

[[storage.routes]]
acs_resource_id = "us-resource"
region = "eastus"
"""


def test_the_contract_example_loads_and_routes_by_caller_callee_and_resource(tmp_path: Path) -> None:
    settings = load_settings({"RECORDER_CONFIG": str(_write(tmp_path, GOOD))}, for_serving=False)
    storage = settings.storage
    assert storage is not None and storage.mode is StorageMode.COPY
    assert choose_region(storage, "4:+14255550100", None, None).name == "eastus"
    assert choose_region(storage, "4:+4420", "4:+4930", "us-resource").name == "westeurope"
    assert choose_region(storage, "4:+4420", None, "us-resource").name == "eastus"
    assert choose_region(storage, None, None, None).name == "westeurope"
    # a recording request's region wins over the routes; one that is not configured is ignored
    assert choose_region(storage, "4:+14255550100", None, None, requested="westeurope").name == "westeurope"
    assert choose_region(storage, "4:+14255550100", None, None, requested="mars").name == "eastus"
    assert storage.lease_seconds == 120
    assert storage.retention_for("eastus") == 7 and storage.retention_for("westeurope") is None


def test_every_storage_problem_is_reported_at_once(tmp_path: Path) -> None:
    bad = """
[storage]
mode = "mirror"
default_region = "mars"
block_size_mib = 0

[storage.regions.westeurope]
account_url = "http://contoso.blob.core.windows.net?sv=2020&sig=secret"
container = "Recordings"

[storage.regions.eastus]
container = "recordings"

[[storage.routes]]
caller_prefix = "4:+1"
callee_prefix = "4:+1"
region = "eastus"

[[storage.routes]]
caller_prefix = "4:+44"
region = "nowhere"
"""
    with pytest.raises(ConfigError) as refused:
        load_settings({"RECORDER_CONFIG": str(_write(tmp_path, bad))}, for_serving=False)
    problems = "\n".join(refused.value.problems)
    for expected in (
        "storage.mode",
        "storage.default_region: no region named 'mars'",
        "storage.block_size_mib",
        "storage.regions.westeurope.account_url",
        "storage.regions.westeurope.container",
        "storage.regions.eastus: set account_url",
        "storage.routes[0]: set exactly one of",
        "storage.routes[1].region: no region named 'nowhere'",
    ):
        assert expected in problems
    assert "secret" not in problems


def test_two_regions_sharing_one_container_are_refused() -> None:
    problems: list[str] = []
    section = {
        "default_region": "a",
        "regions": {
            "a": {"account_url": "https://x.blob.core.windows.net", "container": "rec"},
            "b": {"account_url": "https://x.blob.core.windows.net/", "container": "rec"},
        },
    }
    assert load_storage(section, problems, is_loopback) is None
    assert problems == ["storage.regions.b: same account and container as storage.regions.a"]


def test_no_storage_section_means_storage_is_off() -> None:
    problems: list[str] = []
    assert load_storage(None, problems, is_loopback) is None
    assert problems == []


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recorder.toml"
    path.write_text(text)
    return path
