"""Security settings: trusted reverse proxies, Entra ID tokens on Event Grid deliveries, the event window,
the HTTP limits. Read from the ``[recorder]`` table (environment.py), shaped here for the web layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from recorder.config.environment import (
    DEFAULT_EVENT_FUTURE_SKEW_SECONDS,
    DEFAULT_EVENT_MAX_AGE_MINUTES,
    DEFAULT_INCOMING_CALL_MAX_AGE_MINUTES,
)

if TYPE_CHECKING:
    from recorder.config.environment import RecorderTable

ENTRA_V1_ISSUER = "https://sts.windows.net/{tenant}/"
ENTRA_V2_ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"
ENTRA_JWKS_URL = "https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"


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


def security_from(table: RecorderTable) -> SecuritySettings:
    """The security settings of a validated ``[recorder]`` table."""
    return SecuritySettings(
        trusted_proxies=table.trusted_proxies,
        eventgrid_entra=_eventgrid_entra(table),
        event_window=EventWindow(
            table.event_max_age_minutes, table.incoming_call_max_age_minutes, table.event_future_skew_seconds
        ),
        http=HttpLimits(
            table.http_max_connections,
            table.http_keepalive_seconds,
            table.http_header_timeout_seconds,
            table.http_body_timeout_seconds,
        ),
    )


def _eventgrid_entra(table: RecorderTable) -> EventGridEntra | None:
    """Issuers and keys default to the tenant's (the table's rules made sure one or the other is there)."""
    tenant, issuer = table.eventgrid_aad_tenant_id, table.eventgrid_aad_issuer
    if not table.eventgrid_aad_audience:
        return None
    issuers = (
        (issuer,)
        if issuer
        else (ENTRA_V1_ISSUER.format(tenant=tenant), ENTRA_V2_ISSUER.format(tenant=tenant))
    )
    return EventGridEntra(
        table.eventgrid_aad_audience,
        issuers,
        table.eventgrid_aad_jwks_url or ENTRA_JWKS_URL.format(tenant=tenant),
        table.eventgrid_aad_app_ids or (EVENTGRID_APP_ID_PUBLIC_CLOUD,),
        table.eventgrid_aad_role,
    )
