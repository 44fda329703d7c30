"""Settings, read once at start-up from the environment and an optional TOML file, then passed in.

``load_config`` validates the one model (model.py) and lists every problem at once, each naming the setting
and where it came from, so an operator fixes a bad deployment in one pass; ``Settings`` is what the service
runs on, made from it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from recorder.config.calls import CallsSettings
from recorder.config.compliance import AuditSettings, EntraSettings
from recorder.config.consent import DEFAULT_PROMPT
from recorder.config.environment import DEFAULT_ISSUER, DEFAULT_JWKS_URL
from recorder.config.fields import Loc, is_loopback
from recorder.config.model import ConfigFileError, EnvironmentSource, RecorderConfig, build, read_document
from recorder.config.operations import OperationsSettings
from recorder.config.problems import describe, variable
from recorder.config.security import SecuritySettings, security_from
from recorder.config.storage import StorageSettings
from recorder.domain.model import ConsentPolicy

__all__ = ["ConfigError", "Settings", "is_loopback", "load_config", "load_settings", "settings_from"]
log = logging.getLogger(__name__)
REQUIRED_TO_SERVE = ("acs_endpoint", "public_url", "acs_resource_id", "eventgrid_secret")


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///recorder.db"
    acs_endpoint: str = ""
    acs_access_key: str | None = field(default=None, repr=False)
    acs_access_key_secret_uri: str | None = None
    acs_resource_id: str = ""
    public_url: str = ""
    callback_issuer: str = DEFAULT_ISSUER
    callback_jwks_url: str = DEFAULT_JWKS_URL
    eventgrid_secret: str = field(default="", repr=False)
    events_topic_endpoint: str | None = None
    events_topic_key: str | None = field(default=None, repr=False)
    outbound_caller_id: str | None = None  # E.164 number outbound calls come from, unless a request names one
    cognitive_services_endpoint: str | None = None
    outbox_lease_seconds: int = 30
    token_lifetime_minutes: int = 60
    policy: ConsentPolicy = field(
        default_factory=lambda: ConsentPolicy(prompts={"en-US": DEFAULT_PROMPT}, default_locale="en-US")
    )
    storage: StorageSettings | None = None
    calls: CallsSettings = field(default_factory=CallsSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    entra: EntraSettings | None = None
    operations: OperationsSettings = field(default_factory=OperationsSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    default_region: str | None = None  # [console]: how searches read a number without a country code

    @property
    def emulator_mode(self) -> bool:
        """A loopback http:// ACS endpoint is the local emulator."""
        parts = urlsplit(self.acs_endpoint)
        return parts.scheme == "http" and is_loopback(parts.hostname or "")


def load_settings(env: Mapping[str, str], *, for_serving: bool) -> Settings:
    return settings_from(load_config(env, for_serving=for_serving))


def load_config(env: Mapping[str, str], *, for_serving: bool) -> RecorderConfig:
    """The configuration ``env`` and its RECORDER_CONFIG file give, or ``ConfigError`` with every problem."""
    try:
        document = read_document(env.get("RECORDER_CONFIG"))
    except ConfigFileError as exc:
        raise ConfigError([str(exc)]) from exc
    from_file = _given(document) - _given(EnvironmentSource(RecorderConfig, env)())
    try:
        config: RecorderConfig | None = build(env, document)
        problems = []
    except ValidationError as exc:
        config, problems = None, [describe(e, from_file=from_file) for e in exc.errors()]
    if for_serving:
        problems = _missing_to_serve(env, document) + problems
    if problems or config is None:
        raise ConfigError(problems)
    if config.recorder.acs_connection_string:
        log.warning("config.connection_string: prefer Managed Identity or a Key Vault secret for the ACS key")
    return config


def _given(document: Mapping[str, Any]) -> frozenset[Loc]:
    """(table, key) of every key ``document`` sets."""
    return frozenset((t, k) for t, keys in document.items() if isinstance(keys, dict) for k in keys)


def _missing_to_serve(env: Mapping[str, str], document: Mapping[str, Any]) -> list[str]:
    table = document.get("recorder")
    table = table if isinstance(table, dict) else {}

    def given(key: str) -> bool:
        return bool(str(env.get(variable(key), "")).strip() or table.get(key))

    missing = [key for key in REQUIRED_TO_SERVE if not given(key)]
    if "acs_endpoint" in missing and given("acs_connection_string"):
        missing.remove("acs_endpoint")  # the connection string names it (or its own problem is listed)
    return [f"{variable(key)}: required to serve" for key in missing]


def settings_from(config: RecorderConfig) -> Settings:
    """What the service runs on, from a validated configuration."""
    table = config.recorder
    return Settings(
        database_url=table.database_url,
        acs_endpoint=table.acs_endpoint or "",
        acs_access_key=table.acs_access_key,
        acs_access_key_secret_uri=table.acs_access_key_secret_uri,
        acs_resource_id=table.acs_resource_id or "",
        public_url=table.public_url or "",
        callback_issuer=table.acs_callback_issuer,
        callback_jwks_url=table.acs_callback_jwks_url,
        eventgrid_secret=table.eventgrid_secret or "",
        events_topic_endpoint=table.events_topic_endpoint,
        events_topic_key=table.events_topic_key,
        outbound_caller_id=table.outbound_caller_id,
        cognitive_services_endpoint=table.cognitive_services_endpoint,
        outbox_lease_seconds=config.outbox.lease_seconds,
        token_lifetime_minutes=table.token_lifetime_minutes,
        policy=config.consent.policy(config.calls),
        storage=config.storage,
        calls=config.calls,
        audit=config.audit,
        entra=config.auth.entra,
        operations=config.operations,
        security=security_from(table),
        default_region=config.console.default_region,
    )
