"""The ``[recorder]`` table: every ``RECORDER_<KEY>`` environment variable, which wins over the file's key.

Secrets (``eventgrid_secret``, ``acs_access_key``, ``events_topic_key``) belong in the environment.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from recorder.config.database_urls import database_url_problem
from recorder.config.fields import Bounded, Loc, SecureUrl, Table, problem, problems_error

DEFAULT_ISSUER = "https://acscallautomation.communication.azure.com"
DEFAULT_JWKS_URL = "https://acscallautomation.communication.azure.com/calling/keys"
TOKEN_LIFETIME_RANGE = (60, 1440)  # what ACS accepts for a user access token, in minutes
# Event Grid retries a delivery for at most 24 h after the event was published (its longest TTL), so an older
# event can never be a genuine delivery; anything shorter by default would turn an outage of ours into lost
# RecordingFileStatusUpdated events, since a 400 is never retried. IncomingCall is useful for 30 s of ringing
# (Microsoft recommends a 1-minute TTL): five minutes is generous, and a replayed call is refused.
DEFAULT_EVENT_MAX_AGE_MINUTES = 24 * 60 + 5
DEFAULT_INCOMING_CALL_MAX_AGE_MINUTES = 5
DEFAULT_EVENT_FUTURE_SKEW_SECONDS = 300


def _database_url(value: Any) -> Any:
    if isinstance(value, str) and (found := database_url_problem(value)):
        raise problem(found)
    return value


def _base64_key(value: Any) -> Any:
    try:
        valid = isinstance(value, str) and bool(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise problem("not a base64 key")
    return value


def _secret(value: Any) -> Any:
    if isinstance(value, str) and len(value) < 16:
        raise problem("use at least 16 characters")
    return value


def _e164(value: Any) -> Any:
    if not isinstance(value, str) or not re.fullmatch(r"\+[1-9][0-9]{5,14}", value):
        raise problem("expected an E.164 number such as +18005550100")
    return value


def _items(value: Any) -> Any:
    """A comma-separated list (as an environment variable holds it), or a TOML array."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def _networks(value: Any) -> Any:
    networks, bad = [], []
    for item in _items(value) if isinstance(value, str | list | tuple) else [value]:
        try:
            networks.append(str(ipaddress.ip_network(str(item).strip(), strict=False)))
        except ValueError:
            bad.append(((), problem(f"{item!r} is not an IP address or CIDR range"), item))
    if bad:
        raise problems_error("trusted_proxies", bad)
    return tuple(networks)


def parse_connection_string(value: str) -> tuple[str, str] | None:
    """``endpoint=https://…;accesskey=…`` → (endpoint, access key), or None when it is not one."""
    pairs = (item.partition("=") for item in value.split(";") if item)
    parts = {k.strip().lower(): v.strip() for k, _, v in pairs}
    endpoint, key = parts.get("endpoint"), parts.get("accesskey")
    return (endpoint.rstrip("/"), key) if endpoint and key else None


Url = Annotated[str, SecureUrl()]
ServiceUrl = Annotated[str, SecureUrl(strip_slash=True)]
# a TOML array, or a comma-separated string as the environment variable holds it
LIST_OR_TEXT = WithJsonSchema({"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]})
Items = Annotated[tuple[str, ...], BeforeValidator(_items), LIST_OR_TEXT]


def Whole(low: int, high: int) -> Bounded:
    return Bounded(low, high)


class RecorderTable(Table):
    database_url: Annotated[str, BeforeValidator(_database_url)] = Field(
        "sqlite:///recorder.db", description="sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/NAME"
    )
    acs_endpoint: ServiceUrl | None = Field(
        None,
        description="the ACS resource endpoint; http:// only for a loopback emulator. Required to serve.",
    )
    acs_access_key: Annotated[str, BeforeValidator(_base64_key)] | None = Field(
        None, repr=False, description="base64 access key (HMAC); unset: Managed Identity. A secret."
    )
    acs_access_key_secret_uri: str | None = Field(
        None, description="a Key Vault secret holding the access key, read with Managed Identity"
    )
    acs_connection_string: str | None = Field(
        None, repr=False, description="endpoint=…;accesskey=…, accepted for compatibility. A secret."
    )
    public_url: ServiceUrl | None = Field(
        None, description="where ACS and Event Grid reach this service. Required to serve."
    )
    acs_resource_id: str | None = Field(
        None, description="the ACS immutable resource id: the callback JWT audience. Required to serve."
    )
    acs_callback_issuer: str = Field(DEFAULT_ISSUER, description="issuer of callback JWTs")
    acs_callback_jwks_url: Url = Field(
        DEFAULT_JWKS_URL, description="where callback signing keys are fetched"
    )
    eventgrid_secret: Annotated[str, BeforeValidator(_secret)] | None = Field(
        None,
        repr=False,
        description="the secret query parameter Event Grid presents (16+). Required to serve.",
    )
    events_topic_endpoint: Url | None = Field(None, description="Event Grid topic this service publishes to")
    events_topic_key: str | None = Field(
        None, repr=False, description="the topic's key; unset: Managed Identity"
    )
    outbound_caller_id: Annotated[str, BeforeValidator(_e164)] | None = Field(
        None, description="E.164 number outbound calls come from, unless a request names one"
    )
    cognitive_services_endpoint: str | None = Field(None, description="Azure AI services, for text prompts")
    token_lifetime_minutes: Annotated[
        int, Bounded(*TOKEN_LIFETIME_RANGE, "whole minutes from {low:g} to {high:g}, as ACS allows")
    ] = Field(60, description="agent access tokens")
    trusted_proxies: Annotated[tuple[str, ...], BeforeValidator(_networks), LIST_OR_TEXT] = Field(
        (), description="IPs / CIDRs (comma-separated) whose X-Forwarded-Proto/-For are believed"
    )
    eventgrid_aad_audience: str | None = Field(None, description="require Event Grid's Entra ID token for it")
    eventgrid_aad_tenant_id: str | None = Field(None, description="the tenant of Event Grid's tokens")
    eventgrid_aad_issuer: str | None = Field(None, description="instead of the tenant's issuers")
    eventgrid_aad_jwks_url: Annotated[str, SecureUrl(echo=False)] | None = Field(
        None, description="instead of the tenant's keys"
    )
    eventgrid_aad_app_ids: Items = Field(
        (), description="Event Grid's application ids (default: public cloud)"
    )
    eventgrid_aad_role: str | None = Field(None, description="accept tokens carrying this role instead")
    event_max_age_minutes: Annotated[int, Whole(1, 10080)] = Field(
        DEFAULT_EVENT_MAX_AGE_MINUTES, description="an older Event Grid event is refused"
    )
    incoming_call_max_age_minutes: Annotated[int, Whole(1, 1445)] = Field(
        DEFAULT_INCOMING_CALL_MAX_AGE_MINUTES, description="an older IncomingCall is refused"
    )
    event_future_skew_seconds: Annotated[int, Whole(0, 3600)] = Field(
        DEFAULT_EVENT_FUTURE_SKEW_SECONDS, description="how far in the future an event's time may be"
    )
    http_max_connections: Annotated[int, Whole(1, 100_000)] = Field(256, description="per worker; 503 beyond")
    http_keepalive_seconds: Annotated[int, Whole(1, 300)] = Field(5, description="idle keep-alive connection")
    http_header_timeout_seconds: Annotated[int, Whole(1, 300)] = Field(10, description="a request's headers")
    http_body_timeout_seconds: Annotated[int, Whole(1, 600)] = Field(20, description="a request's body")

    @model_validator(mode="before")
    @classmethod
    def _from_connection_string(cls, data: Any) -> Any:
        """The endpoint and key of a connection string, where not set on their own."""
        parsed = (
            parse_connection_string(str(data.get("acs_connection_string") or ""))
            if isinstance(data, dict)
            else None
        )
        if parsed is None:
            return data
        endpoint, key = parsed
        return {
            **data,
            "acs_endpoint": data.get("acs_endpoint") or endpoint,
            "acs_access_key": data.get("acs_access_key") or key,
        }

    @classmethod
    def rules(cls, table: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        found: list[tuple[Loc, str]] = []
        connection_string = table.get("acs_connection_string")
        if connection_string and parse_connection_string(str(connection_string)) is None:
            found.append((("acs_connection_string",), "expected 'endpoint=https://…;accesskey=…'"))
        topic = table.get("events_topic_endpoint")
        if isinstance(topic, str) and topic.startswith("http://") and not table.get("events_topic_key"):
            found.append((("events_topic_key",), "required for an http:// topic (Managed Identity: https)"))
        return found + _eventgrid_entra_rules(table)


def _eventgrid_entra_rules(table: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    audience, tenant = table.get("eventgrid_aad_audience"), table.get("eventgrid_aad_tenant_id")
    issuer, jwks_url = table.get("eventgrid_aad_issuer"), table.get("eventgrid_aad_jwks_url")
    if not audience:
        if tenant or issuer or jwks_url:
            return [(("eventgrid_aad_audience",), "required to check Event Grid's Entra ID tokens")]
        return []
    if not tenant and not (issuer and jwks_url):
        return [
            (
                ("eventgrid_aad_tenant_id",),
                "required (or both RECORDER_EVENTGRID_AAD_ISSUER and RECORDER_EVENTGRID_AAD_JWKS_URL)",
            )
        ]
    return []
