"""``recorder config show``: the effective configuration as JSON, in the shape of the TOML file (the model's
tables, the environment's values merged in, every default filled), with every secret redacted.

Secrets are found two ways: by the model, where each secret field is declared ``repr=False`` (a test checks
that every field named like a secret — ``…key``, ``…secret``, ``…token``, ``…connection_string`` — is, or is
listed as not one), and by the shape of any string value (SAS signatures, ``AccountKey=``/``AccessKey=``
pairs, passwords in URLs, JWTs), wherever it sits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any

from pydantic import BaseModel

from recorder.config.model import RecorderConfig
from recorder.config.settings import settings_from

REDACTED = "<redacted>"
SECRET_NAME = re.compile(r"(^|_)(key|secret|token|password|connection_string|credential)s?$", re.IGNORECASE)
NOT_SECRETS = {"grant_key", "decline_key", "withdraw_key", "acs_access_key_secret_uri"}  # names only
SECRET_PAIRS = re.compile(
    r"((?:^|[;?&])\s*(?:sig|accountkey|accesskey|sharedaccesskey|sharedaccesssignature|secret|password|"
    r"code|token)\s*=)[^;&#\s]*",
    re.IGNORECASE,
)
URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")
JWT = re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*")


def scrub(value: str) -> str:
    """Removes secret-shaped parts of a string (SAS signatures, keys in connection strings, URL passwords)."""
    value = SECRET_PAIRS.sub(lambda m: m.group(1) + REDACTED, value)
    value = URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + "@", value)
    return JWT.sub(REDACTED, value)


def redacted(value: Any) -> Any:
    """``value`` (a model, or what one holds) as JSON values, its secret fields and secret shapes redacted."""
    if isinstance(value, BaseModel):
        fields = type(value).model_fields.items()
        return {name: _field(getattr(value, name), info.repr) for name, info in fields if not info.exclude}
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {str(k): redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return (
            sorted(redacted(v) for v in value)
            if isinstance(value, frozenset)
            else [redacted(v) for v in value]
        )
    return scrub(str(value))


def _field(value: Any, shown: bool) -> Any:
    if not shown:  # a secret: whether it is set is all that shows
        return REDACTED if value else value
    return redacted(value)


def show(config: RecorderConfig) -> str:
    settings = settings_from(config)
    document = redacted(config)
    document["emulator_mode"] = settings.emulator_mode
    document["acs_credential"] = (
        "access key"
        if settings.acs_access_key
        else "Key Vault secret, read with Managed Identity"
        if settings.acs_access_key_secret_uri
        else "Managed Identity (DefaultAzureCredential)"
    )
    return json.dumps(document, indent=2, sort_keys=True)
