"""``recorder config show``: the effective configuration as JSON, with every secret redacted.

Secrets are found two ways, so that a new setting is covered without anyone remembering this file: by the
field's name (``…key``, ``…secret``, ``…token``, ``…password``, ``…connection_string``, ``…credential``),
and by the shape of any string value (SAS signatures, ``AccountKey=``/``AccessKey=`` pairs, passwords in
URLs, JWTs).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any

from recorder.config.settings import Settings

REDACTED = "<redacted>"
SECRET_NAME = re.compile(r"(^|_)(key|secret|token|password|connection_string|credential)s?$", re.IGNORECASE)
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


def redacted(value: Any, name: str = "") -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if SECRET_NAME.search(name) and not name.lower().endswith(("_uri", "_url")):
        return REDACTED if value != "" else ""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):
        return scrub(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: redacted(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redacted(v, name) for v in value]
    return scrub(str(value))


def show(settings: Settings) -> str:
    document = redacted(settings)
    document["emulator_mode"] = settings.emulator_mode
    document["acs_credential"] = (
        "access key"
        if settings.acs_access_key
        else "Key Vault secret, read with Managed Identity"
        if settings.acs_access_key_secret_uri
        else "Managed Identity (DefaultAzureCredential)"
    )
    return json.dumps(document, indent=2, sort_keys=True)
