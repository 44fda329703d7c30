"""Security settings: trusted reverse proxies, Entra ID tokens on Event Grid deliveries, the event window.

Read from the environment (or the ``[recorder]`` table of the TOML file, lower-case names without the
``RECORDER_`` prefix), every problem reported with the others.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

ENTRA_V1_ISSUER = "https://sts.windows.net/{tenant}/"
ENTRA_V2_ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"
ENTRA_JWKS_URL = "https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"

# Event Grid retries a delivery for at most 24 h after the event was published (its longest TTL), so an older
# event can never be a genuine delivery; anything shorter by default would turn an outage of ours into lost
# RecordingFileStatusUpdated events, since a 400 is never retried. IncomingCall is useful for 30 s of ringing
# (Microsoft recommends a 1-minute TTL): five minutes is generous, and a replayed call is refused.
DEFAULT_EVENT_MAX_AGE_MINUTES = 24 * 60 + 5
DEFAULT_INCOMING_CALL_MAX_AGE_MINUTES = 5
DEFAULT_EVENT_FUTURE_SKEW_SECONDS = 300


# Event Grid's own Entra application, whose tokens it sends to webhooks protected by Entra ID (Microsoft's
# secure-webhook-delivery scripts: MicrosoftDocs/azure-docs, articles/event-grid/scripts/
# powershell-webhook-secure-delivery-microsoft-entra-app.md). Azure Government uses another id.
EVENTGRID_APP_ID_PUBLIC_CLOUD = "4962773b-9cdb-44cf-a8bf-237846a00ab7"
EVENTGRID_APP_ID_GOVERNMENT = "54316b56-3481-47f9-8f30-0300f5542a7b"


@dataclass(frozen=True)
class EventGridEntra:
    """When set, every Event Grid delivery must also carry an Entra ID bearer token for this audience, issued
    to Event Grid itself (``appid``/``azp`` one of ``app_ids``) or carrying ``role`` when one is set."""

    audience: str
    issuers: tuple[str, ...]
    jwks_url: str
    app_ids: tuple[str, ...] = (EVENTGRID_APP_ID_PUBLIC_CLOUD,)
    role: str | None = None


@dataclass(frozen=True)
class EventWindow:
    max_age_minutes: int = DEFAULT_EVENT_MAX_AGE_MINUTES
    incoming_call_max_age_minutes: int = DEFAULT_INCOMING_CALL_MAX_AGE_MINUTES
    future_skew_seconds: int = DEFAULT_EVENT_FUTURE_SKEW_SECONDS


@dataclass(frozen=True)
class HttpLimits:
    """What one slow or greedy client may hold: connections per worker (uvicorn answers 503 beyond), how long
    an idle keep-alive connection stays, how long a request's headers and its body may take to arrive."""

    max_connections: int = 256
    keepalive_seconds: int = 5
    header_timeout_seconds: int = 10
    body_timeout_seconds: int = 20


@dataclass(frozen=True)
class SecuritySettings:
    trusted_proxies: tuple[str, ...] = ()  # IPs / CIDRs whose X-Forwarded-Proto/-For are believed
    eventgrid_entra: EventGridEntra | None = None
    event_window: EventWindow = field(default_factory=EventWindow)
    http: HttpLimits = field(default_factory=HttpLimits)


def load_security(
    env: Mapping[str, str], file_section: Mapping[str, Any], problems: list[str]
) -> SecuritySettings:
    def setting(name: str) -> str | None:
        value = env.get(name)
        if value is None:
            raw = file_section.get(name.removeprefix("RECORDER_").lower())
            value = None if raw is None else str(raw)
        return value.strip() if value and value.strip() else None

    def whole(name: str, default: int, low: int, high: int) -> int:
        return _whole(setting, name, default, low, high, problems)

    return SecuritySettings(
        trusted_proxies=_proxies(setting("RECORDER_TRUSTED_PROXIES"), problems),
        eventgrid_entra=_eventgrid_entra(setting, problems),
        event_window=EventWindow(
            whole("RECORDER_EVENT_MAX_AGE_MINUTES", DEFAULT_EVENT_MAX_AGE_MINUTES, 1, 10080),
            whole("RECORDER_INCOMING_CALL_MAX_AGE_MINUTES", DEFAULT_INCOMING_CALL_MAX_AGE_MINUTES, 1, 1445),
            whole("RECORDER_EVENT_FUTURE_SKEW_SECONDS", DEFAULT_EVENT_FUTURE_SKEW_SECONDS, 0, 3600),
        ),
        http=HttpLimits(
            whole("RECORDER_HTTP_MAX_CONNECTIONS", HttpLimits.max_connections, 1, 100_000),
            whole("RECORDER_HTTP_KEEPALIVE_SECONDS", HttpLimits.keepalive_seconds, 1, 300),
            whole("RECORDER_HTTP_HEADER_TIMEOUT_SECONDS", HttpLimits.header_timeout_seconds, 1, 300),
            whole("RECORDER_HTTP_BODY_TIMEOUT_SECONDS", HttpLimits.body_timeout_seconds, 1, 600),
        ),
    )


def _proxies(value: str | None, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    proxies = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            proxies.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            problems.append(f"RECORDER_TRUSTED_PROXIES: {item!r} is not an IP address or CIDR range")
    return tuple(proxies)


def _eventgrid_entra(setting: Callable[[str], str | None], problems: list[str]) -> EventGridEntra | None:
    audience = setting("RECORDER_EVENTGRID_AAD_AUDIENCE")
    tenant = setting("RECORDER_EVENTGRID_AAD_TENANT_ID")
    issuer = setting("RECORDER_EVENTGRID_AAD_ISSUER")
    jwks_url = setting("RECORDER_EVENTGRID_AAD_JWKS_URL")
    if not audience:
        if tenant or issuer or jwks_url:
            problems.append("RECORDER_EVENTGRID_AAD_AUDIENCE: required to check Event Grid's Entra ID tokens")
        return None
    if not tenant and not (issuer and jwks_url):
        problems.append(
            "RECORDER_EVENTGRID_AAD_TENANT_ID: required (or both RECORDER_EVENTGRID_AAD_ISSUER and "
            "RECORDER_EVENTGRID_AAD_JWKS_URL)"
        )
        return None
    issuers = (
        (issuer,)
        if issuer
        else (ENTRA_V1_ISSUER.format(tenant=tenant), ENTRA_V2_ISSUER.format(tenant=tenant))
    )
    jwks = jwks_url or ENTRA_JWKS_URL.format(tenant=tenant)
    parts = urlsplit(jwks)
    loopback = parts.hostname in ("localhost", "::1") or (parts.hostname or "").startswith("127.")
    if not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        problems.append("RECORDER_EVENTGRID_AAD_JWKS_URL: must be https:// (http:// only for loopback)")
    app_ids = tuple(
        a.strip() for a in (setting("RECORDER_EVENTGRID_AAD_APP_IDS") or "").split(",") if a.strip()
    )
    return EventGridEntra(
        audience,
        issuers,
        jwks,
        app_ids or (EVENTGRID_APP_ID_PUBLIC_CLOUD,),
        setting("RECORDER_EVENTGRID_AAD_ROLE"),
    )


def _whole(
    setting: Callable[[str], str | None],
    name: str,
    default: int,
    low: int,
    high: int,
    problems: list[str],
) -> int:
    value = setting(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        problems.append(f"{name}: expected a whole number from {low} to {high} (got {value!r})")
        return default
    return int(value)
