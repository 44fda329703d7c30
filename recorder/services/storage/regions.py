"""The one place a region becomes a container: which region a call's recording goes to, and its store."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from recorder.config.storage import StorageMode, StorageRegion, StorageSettings, choose_region
from recorder.services.calls.ports import CallRow
from recorder.services.storage.ports import BlobStore, StorageError
from recorder.services.storage.records import StorageRecords

log = logging.getLogger("recorder.storage")


@dataclass(frozen=True)
class Regions:
    settings: StorageSettings
    stores: Mapping[str, BlobStore]
    acs_resource_id: str | None = None

    def store_for(self, region: str, container: str) -> BlobStore:
        """``region``'s blob store; refuses when the row was pinned to a container no longer configured."""
        configured = self.settings.regions.get(region)
        if configured is None or configured.container != container:
            raise StorageError(
                f"region {region!r} no longer maps to container {container!r}; refusing to write elsewhere",
                transient=False,
            )
        return self.stores[region]

    def region_of(self, records: StorageRecords, call: CallRow) -> StorageRegion:
        """The call's region: the one its recording request asked for, else the configured routes."""
        requested = records.requested_region(call.id)
        if requested is not None and requested not in self.settings.regions:
            log.warning("recording.unknown_requested_region", extra={"call_id": call.id, "region": requested})
        return choose_region(self.settings, call.caller, call.callee, self.acs_resource_id, requested)

    def destination(self, records: StorageRecords, call_id: str) -> str | None:
        """Bring-your-own-storage: the container URL ACS must write this call's recording into (the call's
        region, chosen as for every other write); None in copy mode or for no such call."""
        if self.settings.mode != StorageMode.BYOS:
            return None
        call = records.call(call_id)
        if call is None:
            return None
        region = self.region_of(records, call)
        return self.store_for(region.name, region.container).location
