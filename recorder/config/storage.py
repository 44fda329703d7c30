"""The ``[storage]`` part of the TOML settings: regions, routes, mode, retention.

Parsed once at start-up; every problem is appended to the shared list so the operator sees them all at once.
The names (``mode``, ``default_region``, ``regions.<name>.account_url|container|connection_string``,
``routes[].caller_prefix``, ``routes[].region``) are a public contract (docs/contract.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

CONTAINER_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
REGION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ROUTE_MATCHERS = ("caller_prefix", "callee_prefix", "acs_resource_id")


class StorageMode(StrEnum):
    COPY = "copy"  # download each chunk from ACS and upload it into the region's container
    BYOS = "byos"  # ACS writes into the region's container (externalStorage); we verify, tag and register


@dataclass(frozen=True)
class StorageRegion:
    name: str
    container: str
    account_url: str | None = None
    connection_string: str | None = field(default=None, repr=False)  # Azurite / local development only
    retention_days: int | None = None

    @property
    def location(self) -> str:
        """Account and container, without any credential: what logs and the database may show."""
        return f"{self.account_url or 'connection-string'}/{self.container}"


@dataclass(frozen=True)
class StorageRoute:
    region: str
    caller_prefix: str | None = None
    callee_prefix: str | None = None
    acs_resource_id: str | None = None

    def matches(self, caller: str | None, callee: str | None, acs_resource_id: str | None) -> bool:
        if self.caller_prefix is not None:
            return caller is not None and caller.startswith(self.caller_prefix)
        if self.callee_prefix is not None:
            return callee is not None and callee.startswith(self.callee_prefix)
        return acs_resource_id is not None and acs_resource_id == self.acs_resource_id


@dataclass(frozen=True)
class StorageSettings:
    mode: StorageMode
    default_region: str
    regions: Mapping[str, StorageRegion]
    routes: tuple[StorageRoute, ...] = ()
    retention_days: int | None = None
    delete_acs_copy: bool = True
    block_size: int = 4 * 1024 * 1024
    range_size: int = 32 * 1024 * 1024
    lease_seconds: int = 120  # how long a crashed worker's claim on a transfer blocks another attempt

    def retention_for(self, region: str) -> int | None:
        days = self.regions[region].retention_days
        return self.retention_days if days is None else days


def choose_region(
    storage: StorageSettings,
    caller: str | None,
    callee: str | None,
    acs_resource_id: str | None,
    requested: str | None = None,
) -> StorageRegion:
    """The one place a call's region is decided: the region a recording request named (when configured),
    else the first matching route, else the default region."""
    if requested is not None and requested in storage.regions:
        return storage.regions[requested]
    for route in storage.routes:
        if route.matches(caller, callee, acs_resource_id):
            return storage.regions[route.region]
    return storage.regions[storage.default_region]


def load_storage(
    section: Any, problems: list[str], is_loopback: Callable[[str], bool]
) -> StorageSettings | None:
    """``section`` is the parsed ``[storage]`` table (None: storage is not configured)."""
    if section is None:
        return None
    if not isinstance(section, dict):
        problems.append("storage: expected a table")
        return None
    before = len(problems)
    mode = str(section.get("mode", StorageMode.COPY))
    if mode not in set(StorageMode):
        problems.append(f"storage.mode: expected copy or byos (got {mode!r})")
    regions = _regions(section.get("regions"), problems, is_loopback)
    default_region = section.get("default_region")
    if not isinstance(default_region, str) or not default_region:
        problems.append("storage.default_region: required (the name of one of storage.regions)")
    elif regions and default_region not in regions:
        problems.append(f"storage.default_region: no region named {default_region!r} in storage.regions")
    routes = _routes(section.get("routes", []), regions, problems)
    retention = _positive_int(section, "retention_days", "storage.retention_days", problems)
    delete_copy = section.get("delete_acs_copy", True)
    if not isinstance(delete_copy, bool):
        problems.append("storage.delete_acs_copy: expected true or false")
    block_mib = _positive_int(section, "block_size_mib", "storage.block_size_mib", problems) or 4
    if block_mib > 100:
        problems.append(
            "storage.block_size_mib: at most 100 (an Azure block is at most 4000 MiB, keep memory low)"
        )
    lease = _positive_int(section, "lease_seconds", "storage.lease_seconds", problems) or 120
    if len(problems) > before:
        return None
    return StorageSettings(
        mode=StorageMode(mode),
        default_region=str(default_region),
        regions=regions,
        routes=routes,
        retention_days=retention,
        delete_acs_copy=bool(delete_copy),
        block_size=block_mib * 1024 * 1024,
        range_size=max(block_mib * 1024 * 1024, 32 * 1024 * 1024),
        lease_seconds=lease,
    )


def _regions(raw: Any, problems: list[str], is_loopback: Callable[[str], bool]) -> dict[str, StorageRegion]:
    if not isinstance(raw, dict) or not raw:
        problems.append("storage.regions: define at least one region ([storage.regions.<name>])")
        return {}
    regions: dict[str, StorageRegion] = {}
    seen: dict[tuple[str, str], str] = {}
    for name, table in raw.items():
        where = f"storage.regions.{name}"
        if not REGION_NAME.match(name):
            problems.append(f"{where}: a region name is letters, digits, '-' and '_'")
        if not isinstance(table, dict):
            problems.append(f"{where}: expected a table")
            continue
        container = table.get("container")
        if not isinstance(container, str) or not CONTAINER_NAME.match(container):
            problems.append(f"{where}.container: a container name is 3-63 lowercase letters, digits and '-'")
            container = ""
        account_url = table.get("account_url")
        connection_string = table.get("connection_string")
        if connection_string is not None and (
            not isinstance(connection_string, str) or not connection_string
        ):
            problems.append(f"{where}.connection_string: expected a string")
            connection_string = None
        if account_url is None and connection_string is None:
            problems.append(f"{where}: set account_url (Managed Identity) or, for Azurite, connection_string")
        if account_url is not None:
            parts = urlsplit(str(account_url))
            secure = parts.scheme == "https" and parts.hostname
            local = parts.scheme == "http" and is_loopback(parts.hostname or "")
            if not (secure or local) or parts.query:
                problems.append(
                    f"{where}.account_url: an https:// URL without a query (http:// only for a loopback "
                    "emulator; never a SAS)"
                )
        if connection_string and "sharedaccesssignature" in connection_string.lower():
            problems.append(f"{where}.connection_string: SAS tokens are not accepted; use an account key")
        retention = _positive_int(table, "retention_days", f"{where}.retention_days", problems)
        identity = (str(account_url or _endpoint_of(connection_string or "")).rstrip("/"), str(container))
        if identity in seen:
            problems.append(f"{where}: same account and container as storage.regions.{seen[identity]}")
        seen[identity] = name
        regions[name] = StorageRegion(
            name=name,
            container=str(container),
            account_url=str(account_url).rstrip("/") if account_url else None,
            connection_string=connection_string,
            retention_days=retention,
        )
    return regions


def _routes(raw: Any, regions: Mapping[str, StorageRegion], problems: list[str]) -> tuple[StorageRoute, ...]:
    if not isinstance(raw, list):
        problems.append("storage.routes: expected an array of tables ([[storage.routes]])")
        return ()
    routes = []
    for i, table in enumerate(raw):
        where = f"storage.routes[{i}]"
        if not isinstance(table, dict):
            problems.append(f"{where}: expected a table")
            continue
        region = table.get("region")
        if not isinstance(region, str) or region not in regions:
            problems.append(f"{where}.region: no region named {region!r} in storage.regions")
        matchers = [key for key in ROUTE_MATCHERS if key in table]
        if len(matchers) != 1 or not isinstance(table[matchers[0]], str) or not table[matchers[0]]:
            problems.append(f"{where}: set exactly one of {', '.join(ROUTE_MATCHERS)} (a non-empty string)")
            continue
        unknown = set(table) - {"region", *ROUTE_MATCHERS}
        if unknown:
            problems.append(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        routes.append(StorageRoute(region=str(region), **{matchers[0]: table[matchers[0]]}))
    return tuple(routes)


def _positive_int(table: Mapping[str, Any], key: str, where: str, problems: list[str]) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        problems.append(f"{where}: expected a whole number of at least 1 (got {value!r})")
        return None
    return value


def _endpoint_of(connection_string: str) -> str:
    pairs = (item.partition("=") for item in connection_string.split(";") if item)
    parts = {k.strip().lower(): v.strip() for k, _, v in pairs}
    if "blobendpoint" in parts:
        return parts["blobendpoint"]
    return parts.get("accountname", "")
