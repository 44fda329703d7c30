"""The ``[storage]`` table: regions, routes, mode, retention.

The names (``mode``, ``default_region``, ``regions.<name>.account_url|container|connection_string``,
``routes[].caller_prefix``, ``routes[].region``) are a public contract (docs/contract.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, ValidationError
from pydantic.json_schema import SkipJsonSchema

from recorder.config.fields import Bounded, Loc, Table, is_loopback, problem

CONTAINER_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
REGION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ROUTE_MATCHERS = ("caller_prefix", "callee_prefix", "acs_resource_id")
MIB = 1024 * 1024
AtLeastOne = Annotated[int, Bounded(1, 10**9, "a whole number of at least 1")]


class StorageMode(StrEnum):
    COPY = "copy"  # download each chunk from ACS and upload it into the region's container
    BYOS = "byos"  # ACS writes into the region's container (externalStorage); we verify, tag and register


def _container(value: Any) -> Any:
    if not isinstance(value, str) or not CONTAINER_NAME.match(value):
        raise problem("a container name is 3-63 lowercase letters, digits and '-'")
    return value


def _account_url(value: Any) -> Any:
    parts = urlsplit(str(value))
    secure = parts.scheme == "https" and parts.hostname
    local = parts.scheme == "http" and is_loopback(parts.hostname or "")
    if not (secure or local) or parts.query:
        raise problem("an https:// URL without a query (http:// only for a loopback emulator; never a SAS)")
    return str(value).rstrip("/")


def _connection_string(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        raise problem("expected a string")
    if "sharedaccesssignature" in value.lower():
        raise problem("SAS tokens are not accepted; use an account key")
    return value


def _mode(value: Any) -> Any:
    if value not in set(StorageMode):
        raise problem(f"expected copy or byos (got {value!r})")
    return value


class StorageRegion(Table):
    name: SkipJsonSchema[str] = Field("", exclude=True)  # the key of its [storage.regions.<name>] table
    container: Annotated[str, BeforeValidator(_container)] = Field(description="the Blob container")
    account_url: Annotated[str | None, BeforeValidator(_account_url)] = Field(
        None, description="https://<account>.blob.core.windows.net, reached with Managed Identity"
    )
    connection_string: Annotated[str | None, BeforeValidator(_connection_string)] = Field(
        None, repr=False, description="an account-key connection string: Azurite / local development only"
    )
    retention_days: AtLeastOne | None = Field(None, description="overrides storage.retention_days")

    @classmethod
    def rules(cls, table: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        if table.get("account_url") is None and table.get("connection_string") is None:
            return [((), "set account_url (Managed Identity) or, for Azurite, connection_string")]
        return []

    @property
    def location(self) -> str:
        """Account and container, without any credential: what logs and the database may show."""
        return f"{self.account_url or 'connection-string'}/{self.container}"


class StorageRoute(Table):
    """First match wins; exactly one of caller_prefix, callee_prefix or acs_resource_id."""

    region: str = Field(description="the name of one of storage.regions")
    caller_prefix: str | None = Field(None, description="prefix of the caller's ACS raw id, e.g. 4:+1")
    callee_prefix: str | None = Field(None, description="prefix of the callee's ACS raw id")
    acs_resource_id: str | None = Field(None, description="the ACS resource the call came through")

    @classmethod
    def rules(cls, table: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        matchers = [key for key in ROUTE_MATCHERS if key in table]
        if len(matchers) != 1 or not isinstance(table[matchers[0]], str) or not table[matchers[0]]:
            return [((), f"set exactly one of {', '.join(ROUTE_MATCHERS)} (a non-empty string)")]
        return []

    def matches(self, caller: str | None, callee: str | None, acs_resource_id: str | None) -> bool:
        if self.caller_prefix is not None:
            return caller is not None and caller.startswith(self.caller_prefix)
        if self.callee_prefix is not None:
            return callee is not None and callee.startswith(self.callee_prefix)
        return acs_resource_id is not None and acs_resource_id == self.acs_resource_id


def _named_regions(value: Any) -> Any:
    if not isinstance(value, dict) or not value:
        raise problem("define at least one region ([storage.regions.<name>])")
    return {k: {**v, "name": k} if isinstance(v, dict) else v for k, v in value.items()}


class StorageSettings(Table):
    mode: Annotated[StorageMode, BeforeValidator(_mode)] = Field(
        StorageMode.COPY,
        description='"copy": download each chunk from ACS and upload it; "byos": ACS writes into it',
    )
    default_region: str = Field(description="the region of a call no route matches")
    regions: Annotated[dict[str, StorageRegion], BeforeValidator(_named_regions)] = Field(
        description="[storage.regions.<name>]: letters, digits, '-' and '_'"
    )
    routes: tuple[StorageRoute, ...] = Field((), description="[[storage.routes]]: first match wins")
    retention_days: AtLeastOne | None = Field(None, description="recorder retention run deletes older ones")
    delete_acs_copy: bool = Field(True, description="delete ACS's own copy once ours is verified")
    block_size_mib: Annotated[
        int, Bounded(1, 100, "a whole number from 1 to 100 (MiB, keeps memory low)")
    ] = Field(4, description="upload block size")
    lease_seconds: AtLeastOne = Field(
        120, description="how long a crashed worker's claim on a transfer blocks another attempt"
    )

    @classmethod
    def rules(cls, table: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        regions = table.get("regions")
        regions = regions if isinstance(regions, dict) else {}
        found = _region_problems(regions)
        default = table.get("default_region")
        if not isinstance(default, str) or not default:
            found.append((("default_region",), "required (the name of one of storage.regions)"))
        elif regions and default not in regions:
            found.append((("default_region",), f"no region named {default!r} in storage.regions"))
        routes = table.get("routes", [])
        for i, route in enumerate(routes if isinstance(routes, list) else []):
            region = route.get("region") if isinstance(route, dict) else None
            if region not in regions:
                found.append((("routes", i, "region"), f"no region named {region!r} in storage.regions"))
        return found

    @property
    def block_size(self) -> int:
        return self.block_size_mib * MIB

    @property
    def range_size(self) -> int:
        return max(self.block_size, 32 * MIB)

    def retention_for(self, region: str) -> int | None:
        days = self.regions[region].retention_days
        return self.retention_days if days is None else days


def _region_problems(regions: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    found: list[tuple[Loc, str]] = []
    seen: dict[tuple[str, str], str] = {}
    for name, table in regions.items():
        if not REGION_NAME.match(name):
            found.append((("regions", name), "a region name is letters, digits, '-' and '_'"))
        if not isinstance(table, dict):
            continue
        where = table.get("account_url") or _endpoint_of(str(table.get("connection_string") or ""))
        identity = (str(where).rstrip("/"), str(table.get("container")))
        if identity in seen:
            found.append(
                (("regions", name), f"same account and container as storage.regions.{seen[identity]}")
            )
        seen[identity] = name
    return found


def _endpoint_of(connection_string: str) -> str:
    pairs = (item.partition("=") for item in connection_string.split(";") if item)
    parts = {k.strip().lower(): v.strip() for k, _, v in pairs}
    if "blobendpoint" in parts:
        return parts["blobendpoint"]
    return parts.get("accountname", "")


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
    section: Any, problems: list[str], is_loopback: Callable[[str], bool] | None = None
) -> StorageSettings | None:
    """A ``[storage]`` table on its own (None: not configured), its problems appended to ``problems``.
    ``is_loopback`` is accepted for older callers; the loopback rule is the model's own."""
    from recorder.config.problems import describe

    if section is None:
        return None
    try:
        return StorageSettings.model_validate(section)
    except ValidationError as exc:
        problems.extend(describe(e, ("storage",)) for e in exc.errors())
        return None
