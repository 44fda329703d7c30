from collections.abc import Iterator

import pytest

from recorder.emulator import EmulatorConfig, RunningEmulator, start_emulator
from tests.integration.azurite import Azurite, azurite
from tests.integration.storage.harness import new_access_key

__all__ = ["azurite", "emulator"]


@pytest.fixture(scope="module")
def emulator(azurite: Azurite) -> Iterator[RunningEmulator]:
    """The ACS emulator, writing bring-your-own-storage recordings into Azurite."""
    config = EmulatorConfig(
        access_key=new_access_key(),
        resource_id="storage-tests",
        storage_connection_string=azurite.connection_string,
    )
    with start_emulator(config) as running:
        yield running
