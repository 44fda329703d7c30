"""The ``[audit]`` and ``[auth.entra]`` TOML sections: chain-head anchoring and Entra ID bearer tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

ROLES = ("admin", "operator", "auditor", "service")
DEFAULT_ENTRA_ROLES = {
    "Recorder.Admin": "admin",
    "Recorder.Operator": "operator",
    "Recorder.Auditor": "auditor",
    "Recorder.Service": "service",
}


@dataclass(frozen=True)
class AuditSettings:
    anchor_account_url: str | None = None
    anchor_container: str = "audit-anchors"
    anchor_connection_string: str | None = field(default=None, repr=False)
    anchor_interval_seconds: int = 300

    @property
    def anchoring(self) -> bool:
        return bool(self.anchor_account_url or self.anchor_connection_string)


@dataclass(frozen=True)
class EntraSettings:
    issuer: str
    audience: str
    jwks_url: str
    roles: Mapping[str, str]


def _https_or_loopback(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return (parts.scheme == "https" and bool(host)) or (
        parts.scheme == "http" and (host in ("localhost", "::1") or host.startswith("127."))
    )


def load_audit(section: Mapping[str, Any], problems: list[str]) -> AuditSettings:
    url = section.get("anchor_account_url")
    connection_string = section.get("anchor_connection_string")
    container = section.get("anchor_container", "audit-anchors")
    interval = section.get("anchor_interval_seconds", 300)
    if url is not None and (not isinstance(url, str) or not _https_or_loopback(url)):
        problems.append("audit.anchor_account_url: must be https:// (http:// only for a loopback host)")
        url = None
    if connection_string is not None and not isinstance(connection_string, str):
        problems.append("audit.anchor_connection_string: expected a string")
        connection_string = None
    if not isinstance(container, str) or not 3 <= len(container) <= 63:
        problems.append("audit.anchor_container: expected a container name of 3 to 63 characters")
        container = "audit-anchors"
    if not isinstance(interval, int) or isinstance(interval, bool) or not 1 <= interval <= 86400:
        problems.append(f"audit.anchor_interval_seconds: expected 1 to 86400 (got {interval!r})")
        interval = 300
    return AuditSettings(url, container, connection_string, interval)


def load_entra(section: Mapping[str, Any], problems: list[str]) -> EntraSettings | None:
    if not section:
        return None
    values: dict[str, str] = {}
    for key in ("issuer", "audience", "jwks_url"):
        value = section.get(key)
        if not isinstance(value, str) or not value:
            problems.append(f"auth.entra.{key}: required when [auth.entra] is present")
        values[key] = value if isinstance(value, str) else ""
    if values["jwks_url"] and not _https_or_loopback(values["jwks_url"]):
        problems.append("auth.entra.jwks_url: must be an https:// URL (http:// only for a loopback host)")
    roles = section.get("roles", DEFAULT_ENTRA_ROLES)
    if not isinstance(roles, dict) or not all(v in ROLES for v in roles.values()):
        problems.append(f"auth.entra.roles: expected app role = one of {', '.join(ROLES)}")
        roles = DEFAULT_ENTRA_ROLES
    return EntraSettings(values["issuer"], values["audience"], values["jwks_url"], dict(roles))
