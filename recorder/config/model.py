"""The whole configuration as one typed model: the TOML file named by ``RECORDER_CONFIG`` and the
``RECORDER_*`` environment variables, read together (the environment wins). ``recorder config check``,
``recorder config show`` and the JSON schema of the file (``recorder config schema``) all come from it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from recorder.config.calls import CallsSettings
from recorder.config.compliance import AuditSettings, AuthTable
from recorder.config.consent import ConsentTable
from recorder.config.console import ConsoleTable
from recorder.config.environment import RecorderTable
from recorder.config.fields import Bounded, Table
from recorder.config.operations import OperationsSettings
from recorder.config.problems import variable
from recorder.config.storage import StorageSettings


class ConfigFileError(Exception):
    """The file named by RECORDER_CONFIG cannot be read or is not TOML."""


class OutboxTable(Table):
    lease_seconds: Annotated[int, Bounded(1, 600)] = Field(
        30, description="how long a crashed instance's claim on a command blocks a retry"
    )


class RecorderConfig(BaseSettings):
    """recorder.toml: every setting of the service. Each key of [recorder], [operations] and [console] is
    also an environment variable, RECORDER_<KEY> in upper case, which wins over the file."""

    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", json_schema_extra={"additionalProperties": False}
    )

    recorder: RecorderTable = Field(default_factory=RecorderTable, description="RECORDER_* settings")
    consent: ConsentTable = Field(default_factory=ConsentTable, description="the consent policy and prompts")
    outbox: OutboxTable = Field(default_factory=OutboxTable, description="the outbox of ACS commands")
    calls: CallsSettings = Field(default_factory=CallsSettings, description="which calls, and who we are")
    operations: OperationsSettings = Field(default_factory=OperationsSettings, description="metrics, drain")
    storage: StorageSettings | None = Field(None, description="region-pinned Blob storage of recordings")
    audit: AuditSettings = Field(default_factory=AuditSettings, description="anchoring the audit chain")
    auth: AuthTable = Field(default_factory=AuthTable, description="Entra ID on the compliance API")
    console: ConsoleTable = Field(default_factory=ConsoleTable, description="officers' number searches")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """``RecorderConfig()``: this process's RECORDER_* variables over its RECORDER_CONFIG file (``build``
        takes both explicitly)."""
        document = read_document(os.environ.get("RECORDER_CONFIG"))
        return EnvironmentSource(settings_cls, os.environ), DocumentSource(settings_cls, document)


ENV_TABLES: dict[str, type[Table]] = {
    "recorder": RecorderTable,
    "operations": OperationsSettings,
    "console": ConsoleTable,
}


class EnvironmentSource(PydanticBaseSettingsSource):
    """``RECORDER_<KEY>`` for every key of the environment tables; an empty variable counts as unset."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env = env

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads whole tables

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for table, model in ENV_TABLES.items():
            keys = model.model_fields
            values = {k: self.env[variable(k)] for k in keys if self.env.get(variable(k), "").strip()}
            if values:
                found[table] = values
        return found


class DocumentSource(PydanticBaseSettingsSource):
    """The parsed TOML file."""

    def __init__(self, settings_cls: type[BaseSettings], document: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self.document = document

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.document.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.document)


def read_document(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        return tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigFileError(f"RECORDER_CONFIG: cannot read {path}: {exc}") from exc


def build(env: Mapping[str, str], document: Mapping[str, Any]) -> RecorderConfig:
    """The configuration from ``env`` over ``document``; a ``ValidationError`` lists every problem."""
    sources = (EnvironmentSource(RecorderConfig, env), DocumentSource(RecorderConfig, document))
    return RecorderConfig(_build_sources=(sources, {}))
