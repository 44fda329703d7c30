"""REST plumbing shared by the ACS operations: errors, the parsed request, and reading its JSON body."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from recorder.emulator.identifiers import raw_id_of
from recorder.emulator.state import RequestRecord


class AcsError(Exception):
    """An ACS REST error: ``status`` with a body ``{"error": {"code": ..., "message": ...}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def bad_request(message: str) -> AcsError:
    return AcsError(400, "8523", f"Invalid request. {message}")


def not_found(message: str) -> AcsError:
    return AcsError(404, "8522", message)


def conflict(message: str) -> AcsError:
    return AcsError(409, "8519", message)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None


@dataclass
class AcsRequest:
    """A verified ACS request; operations fill ``record.server_call_id`` and ``record.target`` as they go."""

    params: dict[str, str]
    record: RequestRecord
    body: dict[str, Any] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)

    def text(self, name: str, *, source: dict[str, Any] | None = None) -> str | None:
        value = (self.body if source is None else source).get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise bad_request(f"{name} must be a string.")
        return value

    def required_text(self, name: str, *, source: dict[str, Any] | None = None) -> str:
        value = self.text(name, source=source)
        if not value:
            raise bad_request(f"{name} is required.")
        return value

    def section(self, name: str, *, source: dict[str, Any] | None = None) -> dict[str, Any]:
        value = (self.body if source is None else source).get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise bad_request(f"{name} must be an object.")
        return value

    def identifier(self, name: str, *, source: dict[str, Any] | None = None) -> str:
        value = (self.body if source is None else source).get(name)
        if value is None:
            raise bad_request(f"{name} is required.")
        try:
            return raw_id_of(value)
        except ValueError as error:
            raise bad_request(f"{name}: {error}.") from error

    def identifiers(self, name: str) -> list[str]:
        value = self.body.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise bad_request(f"{name} must be a list.")
        try:
            return [raw_id_of(item) for item in value]
        except ValueError as error:
            raise bad_request(f"{name}: {error}.") from error
