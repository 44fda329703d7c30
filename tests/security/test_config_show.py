"""``recorder config show``: the effective configuration in the shape of the TOML file, every secret redacted;
and the security settings."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recorder.config.settings import ConfigError, load_config, load_settings
from recorder.config.show import REDACTED, scrub, show

ACCESS_KEY = base64.b64encode(b"k" * 32).decode()
SECRET = "eventgrid-secret-VERY-SECRET-1"
TOPIC_KEY = "topic-key-SECRET-2"
SAS = f"sv=2025-01-05&se={datetime.now(UTC) + timedelta(days=365):%Y-%m-%d}&sp=r&sig=AbCdSECRETsig%3D"
AZURITE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=SECRETAccountKey==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
)
TOML = f"""
[recorder]
acs_callback_jwks_url = "https://keys.example.org/calling/keys?{SAS}"

[storage]
mode = "copy"
default_region = "westeurope"

[storage.regions.westeurope]
connection_string = "{AZURITE}"
container = "recordings"

[audit]
anchor_connection_string = "{AZURITE}"
"""


def env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "recorder.toml"
    config.write_text(TOML)
    return {
        "RECORDER_CONFIG": str(config),
        "RECORDER_DATABASE_URL": "postgresql+psycopg://recorder:SECRETdbpassword@db.internal:5432/recorder",
        "RECORDER_ACS_CONNECTION_STRING": f"endpoint=https://contoso.communication.azure.com/;accesskey={ACCESS_KEY}",
        "RECORDER_PUBLIC_URL": "https://recorder.contoso.com",
        "RECORDER_EVENTGRID_SECRET": SECRET,
        "RECORDER_EVENTS_TOPIC_ENDPOINT": "https://t.westeurope-1.eventgrid.azure.net/api/events",
        "RECORDER_EVENTS_TOPIC_KEY": TOPIC_KEY,
        "RECORDER_ACS_ACCESS_KEY_SECRET_URI": "https://contoso.vault.azure.net/secrets/acs-key/abc",
        "RECORDER_TRUSTED_PROXIES": "10.0.0.0/8",
    }


LEAKS = [ACCESS_KEY, SECRET, TOPIC_KEY, "SECRETsig", "SECRETAccountKey", "SECRETdbpassword"]


def test_show_redacts_every_secret_and_keeps_the_rest(tmp_path: Path) -> None:
    text = show(load_config(env(tmp_path), for_serving=False))
    for leak in LEAKS:
        assert leak not in text
    document = json.loads(text)
    recorder = document["recorder"]  # the [recorder] table: every RECORDER_* variable, merged with the file
    assert recorder["acs_access_key"] == REDACTED
    assert recorder["acs_connection_string"] == REDACTED
    assert recorder["eventgrid_secret"] == REDACTED
    assert recorder["events_topic_key"] == REDACTED
    assert document["storage"]["regions"]["westeurope"]["connection_string"] == REDACTED
    assert document["audit"]["anchor_connection_string"] == REDACTED
    assert recorder["acs_endpoint"] == "https://contoso.communication.azure.com"  # from the connection string
    assert recorder["acs_access_key_secret_uri"] == "https://contoso.vault.azure.net/secrets/acs-key/abc"
    assert recorder["database_url"] == f"postgresql+psycopg://recorder:{REDACTED}@db.internal:5432/recorder"
    assert f"sig={REDACTED}" in recorder["acs_callback_jwks_url"]
    assert recorder["trusted_proxies"] == ["10.0.0.0/8"]
    assert document["acs_credential"] == "access key"
    assert document["consent"]["grant_key"] == "1"  # defaults are shown too
    assert document["operations"]["metrics_token"] is None


@pytest.mark.parametrize(
    ("raw", "leak"),
    [
        ("https://a.blob.core.windows.net/c/b?sv=1&sig=XYZsecret&se=2", "XYZsecret"),
        ("AccountName=a;AccountKey=XYZsecret==;EndpointSuffix=core", "XYZsecret"),
        ("endpoint=https://x/;accesskey=XYZsecret", "XYZsecret"),
        ("https://user:XYZsecret@host/db", "XYZsecret"),
        ("Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJYWVpzZWNyZXQifQ.c2ln", "eyJzdWIiOiJYWVpzZWNyZXQifQ"),
        ("https://recorder/webhooks/eventgrid?secret=XYZsecret", "XYZsecret"),
    ],
)
def test_scrub_removes_secret_shaped_values(raw: str, leak: str) -> None:
    assert leak not in scrub(raw)


def test_config_show_command_prints_redacted_json(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")}
    done = subprocess.run(
        [sys.executable, "-m", "recorder", "config", "show"],
        env={**base, **env(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["recorder"]["eventgrid_secret"] == REDACTED
    for leak in LEAKS:
        assert leak not in done.stdout and leak not in done.stderr
    assert "prefer Managed Identity or a Key Vault secret" in done.stderr  # the connection-string warning


def test_security_settings_problems_are_listed_together() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(
            {
                "RECORDER_EVENTGRID_AAD_TENANT_ID": "t",
                "RECORDER_EVENT_MAX_AGE_MINUTES": "0",
                "RECORDER_INCOMING_CALL_MAX_AGE_MINUTES": "soon",
                "RECORDER_EVENT_FUTURE_SKEW_SECONDS": "-1",
            },
            for_serving=False,
        )
    names = sorted(p.split(":")[0] for p in refused.value.problems)
    assert names == [
        "RECORDER_EVENTGRID_AAD_AUDIENCE",
        "RECORDER_EVENT_FUTURE_SKEW_SECONDS",
        "RECORDER_EVENT_MAX_AGE_MINUTES",
        "RECORDER_INCOMING_CALL_MAX_AGE_MINUTES",
    ]


def test_event_grid_entra_defaults_to_the_tenant_issuers_and_keys() -> None:
    settings = load_settings(
        {"RECORDER_EVENTGRID_AAD_AUDIENCE": "api://rec", "RECORDER_EVENTGRID_AAD_TENANT_ID": "tenant-1"},
        for_serving=False,
    )
    entra = settings.security.eventgrid_entra
    assert entra is not None
    assert entra.issuers == (
        "https://sts.windows.net/tenant-1/",
        "https://login.microsoftonline.com/tenant-1/v2.0",
    )
    assert entra.jwks_url == "https://login.microsoftonline.com/tenant-1/discovery/v2.0/keys"
    with pytest.raises(ConfigError, match="RECORDER_EVENTGRID_AAD_JWKS_URL"):
        load_settings(
            {
                "RECORDER_EVENTGRID_AAD_AUDIENCE": "api://rec",
                "RECORDER_EVENTGRID_AAD_ISSUER": "https://issuer",
                "RECORDER_EVENTGRID_AAD_JWKS_URL": "http://keys.example.org/keys",
            },
            for_serving=False,
        )
