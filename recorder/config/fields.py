"""What every settings table shares: problems in our own words, the checks several tables make (https URLs,
numbers in a range), and the base model, whose validation reports every problem of a table at once: its
fields' and its cross-field rules' together.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError, ValidationError, core_schema

Loc = tuple[str | int, ...]
PROBLEM = "recorder"  # the error type of every problem worded here
HTTPS_ONLY = "must be an https:// URL (http:// only for a loopback host)"


def problem(message: str, kind: str = PROBLEM) -> PydanticCustomError:
    """A validation error whose message is ``message`` exactly (braces in it are not a template)."""
    return PydanticCustomError(kind, "{message}", {"message": message})


def problems_error(title: str, found: Sequence[tuple[Loc, PydanticCustomError, Any]]) -> ValidationError:
    """One error holding every problem found, each (where, what, the value refused)."""
    return ValidationError.from_exception_data(
        title, [InitErrorDetails(type=error, loc=loc, input=value) for loc, error, value in found]
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secure_url_problem(url: str) -> str | None:
    """None for an https:// URL, or an http:// one to a loopback host (an emulator); else what is wrong."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and is_loopback(parts.hostname or ""):
        return None
    return HTTPS_ONLY


class Table(BaseModel):
    """A TOML table: frozen once read; keys it does not know are warned about (``config check``), not refused.

    ``rules`` are the checks across fields; they see the raw table, so they run (and report) even when a
    field of the same table is wrong, and every problem is listed at once.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", json_schema_extra={"additionalProperties": False})

    @classmethod
    def rules(cls, table: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        return []

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: Callable[[Any], Any]) -> Any:
        if isinstance(data, BaseModel):
            return handler(data)
        rules = cls.rules(data if isinstance(data, dict) else {})
        found = [(loc, problem(message), None) for loc, message in rules]
        try:
            table = handler(data)
        except ValidationError as exc:
            if not found:
                raise
            found = [*((e["loc"], problem(e["msg"], e["type"]), e["input"]) for e in exc.errors()), *found]
        if found:
            raise problems_error(cls.__name__, found)
        return table


class Check:
    """``Annotated`` metadata: ``check`` validates (before the type's own validation, or after it when
    ``after``), and ``json_extra`` is added to the field's JSON schema."""

    after: ClassVar[bool] = False

    def check(self, raw: Any) -> Any:
        raise NotImplementedError

    def json_extra(self) -> dict[str, Any]:
        return {}

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        if self.after:
            return core_schema.no_info_after_validator_function(self.check, handler(source))
        return core_schema.no_info_before_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        found = handler(schema)
        found.update(self.json_extra())
        return found


@dataclass(frozen=True)
class Bounded(Check):
    """``Annotated[int, Bounded(1, 600)]``: a number in a range, from TOML or from an environment string,
    refused in these words: ``expected a whole number from 1 to 600 (got 0)``. Booleans are not numbers."""

    low: float
    high: float
    expected: str = "a whole number from {low:g} to {high:g}"
    whole: bool = True

    def check(self, raw: Any) -> Any:
        value = _number(raw, self.whole)
        if value is None or not self.low <= value <= self.high:
            wanted = self.expected.format(low=self.low, high=self.high)
            raise problem(f"expected {wanted} (got {raw!r})")
        return value

    def json_extra(self) -> dict[str, Any]:
        return {"minimum": self.low, "maximum": self.high}


def _number(raw: Any, whole: bool) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        text = raw.strip()
        if whole:
            return int(text) if text.isascii() and text.isdigit() else None
        try:
            return float(text)
        except ValueError:
            return None
    if isinstance(raw, int) or (isinstance(raw, float) and not whole):
        return raw
    return None


@dataclass(frozen=True)
class SecureUrl(Check):
    """``Annotated[str, SecureUrl()]``: https://, or http:// to a loopback host; ``echo`` repeats the value in
    the problem (never for URLs that may carry a credential)."""

    echo: bool = True
    strip_slash: bool = False
    after: ClassVar[bool] = True  # of the str validation

    def check(self, raw: Any) -> Any:
        if not isinstance(raw, str):
            return raw  # the str schema refuses it
        url = raw.rstrip("/") if self.strip_slash else raw
        if url and secure_url_problem(url):
            raise problem(f"{HTTPS_ONLY} (got {url!r})" if self.echo else HTTPS_ONLY)
        return url

    def json_extra(self) -> dict[str, Any]:
        return {"format": "uri"}
