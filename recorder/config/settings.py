"""Settings, read once at start-up from the environment and an optional TOML file, then passed in.

Every problem is collected and reported at once, each naming the setting, so an operator fixes a bad
deployment in one pass.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from recorder.config.calls import CallsSettings, load_calls
from recorder.config.compliance import AuditSettings, EntraSettings, load_audit, load_entra
from recorder.config.database_urls import database_url_problem
from recorder.config.operations import OperationsSettings, load_operations
from recorder.config.security import SecuritySettings, load_security
from recorder.config.storage import StorageSettings, load_storage
from recorder.domain.model import ConsentPolicy, Prompt, RefusalAction

log = logging.getLogger(__name__)

DEFAULT_ISSUER = "https://acscallautomation.communication.azure.com"
DEFAULT_JWKS_URL = "https://acscallautomation.communication.azure.com/calling/keys"
DEFAULT_PROMPT = Prompt(
    id="consent-default",
    version="1",
    locale="en-US",
    text=(
        "This call may be recorded for quality and compliance. "
        "Press 1 to agree to the recording, or press 2 to decline."
    ),
)
DEFAULT_TOKEN_LIFETIME_MINUTES = 60
TOKEN_LIFETIME_RANGE = (60, 1440)  # what ACS accepts for a user access token, in minutes
DTMF_WORDS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
    "7": "seven", "8": "eight", "9": "nine", "#": "pound", "*": "asterisk",
    "A": "a", "B": "b", "C": "c", "D": "d",
}  # fmt: skip


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
    token_lifetime_minutes: int = DEFAULT_TOKEN_LIFETIME_MINUTES
    policy: ConsentPolicy = field(
        default_factory=lambda: ConsentPolicy(prompts={"en-US": DEFAULT_PROMPT}, default_locale="en-US")
    )
    storage: StorageSettings | None = None
    calls: CallsSettings = field(default_factory=CallsSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    entra: EntraSettings | None = None
    operations: OperationsSettings = field(default_factory=OperationsSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)

    @property
    def emulator_mode(self) -> bool:
        """A loopback http:// ACS endpoint is the local emulator."""
        parts = urlsplit(self.acs_endpoint)
        return parts.scheme == "http" and is_loopback(parts.hostname or "")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(env: Mapping[str, str], *, for_serving: bool) -> Settings:
    problems: list[str] = []
    file_settings = _read_config_file(env)
    setting = partial(_setting, env, file_settings.get("recorder", {}))
    endpoint, access_key = _acs_endpoint_and_key(setting, problems)
    public_url = (setting("RECORDER_PUBLIC_URL", "public_url") or "").rstrip("/")
    resource_id = setting("RECORDER_ACS_RESOURCE_ID", "acs_resource_id") or ""
    secret = setting("RECORDER_EVENTGRID_SECRET", "eventgrid_secret") or ""
    topic = setting("RECORDER_EVENTS_TOPIC_ENDPOINT", "events_topic_endpoint")
    issuer = setting("RECORDER_ACS_CALLBACK_ISSUER", "acs_callback_issuer", DEFAULT_ISSUER) or DEFAULT_ISSUER
    jwks_url = setting("RECORDER_ACS_CALLBACK_JWKS_URL", "acs_callback_jwks_url", DEFAULT_JWKS_URL)
    if for_serving:
        required = {"RECORDER_ACS_ENDPOINT": endpoint, "RECORDER_PUBLIC_URL": public_url}
        required |= {"RECORDER_ACS_RESOURCE_ID": resource_id, "RECORDER_EVENTGRID_SECRET": secret}
        problems += [f"{name}: required to serve" for name, value in required.items() if not value]
    urls = {"RECORDER_ACS_ENDPOINT": endpoint, "RECORDER_PUBLIC_URL": public_url}
    urls |= {"RECORDER_ACS_CALLBACK_JWKS_URL": jwks_url or "", "RECORDER_EVENTS_TOPIC_ENDPOINT": topic or ""}
    _check_urls(urls, problems)
    topic_key = setting("RECORDER_EVENTS_TOPIC_KEY", "events_topic_key")
    outbound_caller_id = setting("RECORDER_OUTBOUND_CALLER_ID", "outbound_caller_id")
    _check_values(secret, topic, topic_key, outbound_caller_id, problems)
    database_url = setting("RECORDER_DATABASE_URL", "database_url", "sqlite:///recorder.db") or ""
    if problem := database_url_problem(database_url):
        problems.append(f"RECORDER_DATABASE_URL: {problem}")
    lifetime = _token_lifetime(setting("RECORDER_TOKEN_LIFETIME_MINUTES", "token_lifetime_minutes"), problems)
    sections = _sections(env, file_settings, problems)
    if problems:
        raise ConfigError(problems)
    return Settings(
        database_url=database_url,
        acs_endpoint=endpoint,
        acs_access_key=access_key,
        acs_access_key_secret_uri=setting("RECORDER_ACS_ACCESS_KEY_SECRET_URI", "acs_access_key_secret_uri"),
        acs_resource_id=resource_id,
        public_url=public_url,
        callback_issuer=issuer,
        callback_jwks_url=jwks_url or DEFAULT_JWKS_URL,
        eventgrid_secret=secret,
        events_topic_endpoint=topic,
        events_topic_key=topic_key,
        outbound_caller_id=outbound_caller_id,
        cognitive_services_endpoint=setting(
            "RECORDER_COGNITIVE_SERVICES_ENDPOINT", "cognitive_services_endpoint"
        ),
        token_lifetime_minutes=lifetime,
        **sections,
    )


def _read_config_file(env: Mapping[str, str]) -> dict[str, Any]:
    config_path = env.get("RECORDER_CONFIG")
    if not config_path:
        return {}
    try:
        return tomllib.loads(Path(config_path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([f"RECORDER_CONFIG: cannot read {config_path}: {exc}"]) from exc


def _setting(
    env: Mapping[str, str], table: Mapping[str, Any], name: str, toml_key: str, default: str | None = None
) -> str | None:
    """The environment variable ``name``, else ``toml_key`` of the [recorder] table, else ``default``."""
    value = env.get(name)
    if value is None:
        raw = table.get(toml_key, default)
        value = None if raw is None else str(raw)
    return value or default


def _acs_endpoint_and_key(setting: Callable[..., str | None], problems: list[str]) -> tuple[str, str | None]:
    endpoint = (setting("RECORDER_ACS_ENDPOINT", "acs_endpoint") or "").rstrip("/")
    access_key = setting("RECORDER_ACS_ACCESS_KEY", "acs_access_key")
    connection_string = setting("RECORDER_ACS_CONNECTION_STRING", "acs_connection_string")
    if connection_string:
        log.warning("config.connection_string: prefer Managed Identity or a Key Vault secret for the ACS key")
        parsed = _parse_connection_string(connection_string)
        if parsed is None:
            problems.append("RECORDER_ACS_CONNECTION_STRING: expected 'endpoint=https://…;accesskey=…'")
        else:
            endpoint = endpoint or parsed[0]
            access_key = access_key or parsed[1]
    if access_key is not None and not _is_base64(access_key):
        problems.append("RECORDER_ACS_ACCESS_KEY: not a base64 key")
    return endpoint, access_key


def _check_values(
    secret: str, topic: str | None, topic_key: str | None, outbound_caller_id: str | None, problems: list[str]
) -> None:
    if secret and len(secret) < 16:
        problems.append("RECORDER_EVENTGRID_SECRET: use at least 16 characters")
    if topic and topic.startswith("http://") and not topic_key:
        problems.append("RECORDER_EVENTS_TOPIC_KEY: required for an http:// topic (Managed Identity: https)")
    if outbound_caller_id and not re.fullmatch(r"\+[1-9][0-9]{5,14}", outbound_caller_id):
        problems.append("RECORDER_OUTBOUND_CALLER_ID: expected an E.164 number such as +18005550100")


def _check_urls(urls: Mapping[str, str], problems: list[str]) -> None:
    for name, url in urls.items():
        problem = _secure_url_problem(url)
        if url and problem:
            problems.append(f"{name}: {problem} (got {url!r})")


def _sections(env: Mapping[str, str], file_settings: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """The TOML tables, each read by its own module: Settings' fields of the same names."""
    calls = load_calls(file_settings.get("calls", {}), problems)
    policy = replace(
        _load_policy(file_settings.get("consent", {}), problems),
        own_identities=calls.service_identities,
        answer_margin_seconds=calls.answer_margin_seconds,
    )
    return {
        "policy": policy,
        "outbox_lease_seconds": _int_in(
            file_settings.get("outbox", {}), "lease_seconds", 30, 1, 600, problems, "outbox"
        ),
        "storage": load_storage(file_settings.get("storage"), problems, is_loopback),
        "calls": calls,
        "audit": load_audit(file_settings.get("audit", {}), problems),
        "entra": load_entra(file_settings.get("auth", {}).get("entra", {}), problems),
        "operations": load_operations(env, file_settings.get("operations", {}), problems),
        "security": load_security(env, file_settings.get("recorder", {}), problems),
    }


def _token_lifetime(value: str | None, problems: list[str]) -> int:
    low, high = TOKEN_LIFETIME_RANGE
    if value is None:
        return DEFAULT_TOKEN_LIFETIME_MINUTES
    if not (value.strip().isascii() and value.strip().isdigit()) or not low <= int(value) <= high:
        problems.append(
            f"RECORDER_TOKEN_LIFETIME_MINUTES: expected whole minutes from {low} to {high}, "
            f"as ACS allows (got {value!r})"
        )
        return DEFAULT_TOKEN_LIFETIME_MINUTES
    return int(value)


def _secure_url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and is_loopback(parts.hostname or ""):
        return None
    return "must be an https:// URL (http:// only for a loopback host)"


def _parse_connection_string(value: str) -> tuple[str, str] | None:
    pairs = (item.partition("=") for item in value.split(";") if item)
    parts = {k.strip().lower(): v.strip() for k, _, v in pairs}
    endpoint, key = parts.get("endpoint"), parts.get("accesskey")
    return (endpoint.rstrip("/"), key) if endpoint and key else None


def _is_base64(value: str) -> bool:
    try:
        return bool(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return False


def _load_policy(section: Mapping[str, Any], problems: list[str]) -> ConsentPolicy:
    prompts = _load_prompts(section, problems)
    default_locale = str(section.get("default_locale", next(iter(prompts))))
    if default_locale not in prompts:
        problems.append(f"consent.default_locale: no prompt for locale {default_locale!r}")
    tones = _load_tones(section, problems)
    reprompts = _int_in(section, "reprompts", 2, 0, 5, problems)
    silence = _int_in(section, "silence_timeout_seconds", 10, 1, 300, problems)
    on_refusal = str(section.get("on_refusal", RefusalAction.LEAVE_UNRECORDED))
    if on_refusal not in set(RefusalAction):
        problems.append(f"consent.on_refusal: expected leave_unrecorded or hang_up (got {on_refusal!r})")
        on_refusal = RefusalAction.LEAVE_UNRECORDED
    exempt = section.get("exempt", {})
    if not isinstance(exempt, dict) or not all(isinstance(v, str) for v in exempt.values()):
        problems.append('consent.exempt: expected a table of raw id = "reason"')
        exempt = {}
    return ConsentPolicy(
        prompts=prompts,
        default_locale=default_locale,
        grant_tone=tones["grant_key"],
        decline_tone=tones["decline_key"],
        withdraw_tone=tones["withdraw_key"],
        reprompts=reprompts,
        silence_timeout_seconds=silence,
        on_refusal=RefusalAction(on_refusal),
        exempt=dict(exempt),
    )


def _load_prompts(section: Mapping[str, Any], problems: list[str]) -> dict[str, Prompt]:
    prompts: dict[str, Prompt] = {}
    for i, raw in enumerate(section.get("prompts", [])):
        where = f"consent.prompts[{i}]"
        try:
            prompt = Prompt(
                id=str(raw["id"]),
                version=str(raw["version"]),
                locale=str(raw["locale"]),
                text=raw.get("text"),
                audio_url=raw.get("audio_url"),
            )
        except (KeyError, TypeError):
            problems.append(f"{where}: needs id, version and locale")
            continue
        if (prompt.text is None) == (prompt.audio_url is None):
            problems.append(f"{where}: set exactly one of text or audio_url")
        elif prompt.audio_url is not None and _secure_url_problem(prompt.audio_url):
            problems.append(f"{where}.audio_url: must be an https:// URL")
        prompts[prompt.locale] = prompt
    return prompts or {DEFAULT_PROMPT.locale: DEFAULT_PROMPT}


def _load_tones(section: Mapping[str, Any], problems: list[str]) -> dict[str, str]:
    tones: dict[str, str] = {}
    for key, default in (("grant_key", "1"), ("decline_key", "2"), ("withdraw_key", "9")):
        value = str(section.get(key, default))
        if value not in DTMF_WORDS:
            problems.append(f"consent.{key}: expected one of {' '.join(DTMF_WORDS)} (got {value!r})")
        tones[key] = DTMF_WORDS.get(value, "")
    if len(set(tones.values())) != len(tones):
        problems.append("consent: grant_key, decline_key and withdraw_key must differ")
    return tones


def _int_in(
    section: Mapping[str, Any],
    key: str,
    default: int,
    low: int,
    high: int,
    problems: list[str],
    where: str = "consent",
) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        problems.append(f"{where}.{key}: expected a whole number from {low} to {high} (got {value!r})")
        return default
    return value
