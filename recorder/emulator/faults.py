"""Fault injection: rules that make the next N requests of an operation fail, or the next N callbacks of a
type be dropped, delayed, duplicated or reordered. Parsed from the control API's JSON (``POST
/emulator/faults``); each rule counts down and disappears when spent.

``{"kind": "fail_request", "operation": "pause_recording", "count": 2, "status": 500, "code": "8500",
"message": "...", "applied": false, "call_connection_id": "..."}`` -- with ``applied: true`` ACS does the
operation and still answers with the error (the SDK reports a failure that did happen). ``{"kind":
"drop_callback" | "delay_callback" | "duplicate_callback" | "reorder_callbacks", "event":
"RecognizeCompleted", "count": 1, "delay_ms": 500, "server_call_id": "..."}`` -- ``event`` is a type name
without the ``Microsoft.Communication.`` prefix, or ``"*"`` for any; reordering holds the next ``count``
matching deliveries and sends them in reverse order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from recorder.emulator.json_fields import flag_field, text_field

REQUEST_KINDS = ("fail_request",)
CALLBACK_KINDS = ("drop_callback", "delay_callback", "duplicate_callback", "reorder_callbacks")
EVENT_PREFIX = "Microsoft.Communication."
MAX_COUNT = 1000
MAX_TEXT = 1000


class FaultError(ValueError):
    """A fault rule is not valid; the message names the field."""


@dataclass
class RequestFault:
    operation: str
    remaining: int
    status: int
    code: str
    message: str
    applied: bool = False
    call_connection_id: str | None = None
    kind: str = "fail_request"

    def matches(self, operation: str, params: dict[str, str]) -> bool:
        if self.operation not in (operation, "*"):
            return False
        return self.call_connection_id is None or params.get("call_connection_id") == self.call_connection_id


@dataclass
class CallbackFault:
    kind: str
    event: str
    remaining: int
    delay_ms: float = 0.0
    server_call_id: str | None = None

    def matches(self, event_type: str, server_call_id: str | None) -> bool:
        if self.event not in ("*", event_type.removeprefix(EVENT_PREFIX)):
            return False
        return self.server_call_id is None or self.server_call_id == server_call_id


Fault = RequestFault | CallbackFault


def parse_faults(body: object) -> list[Fault]:
    """``{"faults": [rule, ...]}`` or one rule object."""
    items = body.get("faults", [body]) if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise FaultError('expected a fault rule or {"faults": [rules]}')
    return [parse_fault(item) for item in items]


def parse_fault(item: object) -> Fault:
    if not isinstance(item, dict):
        raise FaultError("a fault rule must be a JSON object")
    kind = item.get("kind")
    count = _count(item.get("count", 1))
    if kind in REQUEST_KINDS:
        status = item.get("status", 500)
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise FaultError("status must be an HTTP error status (400-599)")
        return RequestFault(
            operation=_text(item, "operation", required=True),
            remaining=count,
            status=status,
            code=_text(item, "code") or str(status),
            message=_text(item, "message") or "Injected fault.",
            applied=flag_field(item, "applied", FaultError, default=False),
            call_connection_id=_text(item, "call_connection_id") or None,
        )
    if kind in CALLBACK_KINDS:
        delay = item.get("delay_ms", 0)
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise FaultError("delay_ms must be a non-negative number")
        if kind == "reorder_callbacks" and count < 2:
            raise FaultError("reorder_callbacks needs a count of at least 2")
        event = _text(item, "event") or "*"
        return CallbackFault(
            kind, event.removeprefix(EVENT_PREFIX), count, float(delay), _text(item, "server_call_id") or None
        )
    raise FaultError(f"kind must be one of {', '.join(REQUEST_KINDS + CALLBACK_KINDS)}")


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise FaultError(f"count must be a whole number from 1 to {MAX_COUNT}")
    return value


def _text(item: dict[str, Any], name: str, *, required: bool = False) -> str:
    return text_field(item, name, FaultError, required=required, max_length=MAX_TEXT)


class FaultBook:
    """The active rules; each ``take_*`` spends one use of the first matching rule."""

    def __init__(self) -> None:
        self.rules: list[Fault] = []
        self.fired: list[dict[str, Any]] = []

    def add(self, faults: list[Fault]) -> None:
        self.rules.extend(faults)

    def clear(self) -> None:
        self.rules.clear()
        self.fired.clear()

    def take_request_fault(self, operation: str, params: dict[str, str]) -> RequestFault | None:
        for rule in self.rules:
            if isinstance(rule, RequestFault) and rule.matches(operation, params):
                self._spend(rule, {"operation": operation})
                return rule
        return None

    def take_callback_fault(self, event_type: str, server_call_id: str | None) -> CallbackFault | None:
        for rule in self.rules:
            if isinstance(rule, CallbackFault) and rule.matches(event_type, server_call_id):
                self._spend(rule, {"event": event_type, "server_call_id": server_call_id})
                return rule
        return None

    def _spend(self, rule: Fault, detail: dict[str, Any]) -> None:
        rule.remaining -= 1
        if rule.remaining <= 0:
            self.rules.remove(rule)
        self.fired.append({"kind": rule.kind, **detail})

    def describe(self) -> dict[str, Any]:
        return {"active": [asdict(rule) for rule in self.rules], "fired": list(self.fired)}
