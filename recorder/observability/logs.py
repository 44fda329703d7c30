"""Structured logs: one JSON object per line (or a readable line on a terminal), dotted event names, ids.

Every line carries the request id and, where known, the call's ``callConnectionId``, ``serverCallId`` and
``correlationId`` (the names ACS support asks for), taken from context variables that the request middleware,
the webhooks and the outbox dispatcher set. Phone numbers are masked in every line, whatever field or message
they sit in: ``4:+14255550123`` becomes ``4:+1425555****``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
CALL_FIELDS = ("callConnectionId", "serverCallId", "correlationId")
_PHONE = re.compile(r"(?<![\w+])\+(\d{3,11})\d{4}(?!\d)")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_call: ContextVar[Mapping[str, str]] = ContextVar("call_ids", default=MappingProxyType({}))


def mask_phone_numbers(text: str) -> str:
    """Keeps the country code and area for triage; the last four digits never reach a log."""
    return _PHONE.sub(lambda m: f"+{m.group(1)}****", text)


@contextmanager
def call_context(**ids: str | None) -> Iterator[None]:
    """Adds call ids (keys from CALL_FIELDS, plus ``call_id``) to every line logged inside the block."""
    merged = {**_call.get(), **{k: v for k, v in ids.items() if v}}
    token = _call.set(merged)
    try:
        yield
    finally:
        _call.reset(token)


def bind_call(**ids: str | None) -> None:
    """Like ``call_context`` for the rest of the current context (a request: each has its own context)."""
    _call.set({**_call.get(), **{k: v for k, v in ids.items() if v}})


def ids_from_event_data(data: Any) -> dict[str, str | None]:
    """The ACS ids present in an event's ``data`` (callbacks and IncomingCall both carry them)."""
    if not isinstance(data, dict):
        return {}
    return {k: v for k in CALL_FIELDS if isinstance(v := data.get(k), str) and len(v) <= 1024}


def ids_from_payload(payload: Any) -> dict[str, str | None]:
    """The ACS ids of a delivery's first event (a callback delivery belongs to one call)."""
    first = payload[0] if isinstance(payload, list) and payload else payload
    return ids_from_event_data(first.get("data")) if isinstance(first, dict) else {}


class ContextFilter(logging.Filter):
    """Copies the request id and call ids onto each record (explicit ``extra`` values win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id.get()
        if rid is not None and not hasattr(record, "request_id"):
            record.request_id = rid
        for key, value in _call.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in STANDARD}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            "pid": record.process,  # tells uvicorn workers (--workers N) apart
        }
        entry.update(_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return mask_phone_numbers(json.dumps(entry, default=str))


class HumanFormatter(logging.Formatter):
    """``12:00:01.250 INFO  consent.granted  call_id=… callConnectionId=…`` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        pairs = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{when} {record.levelname:<7} {record.getMessage()}  {pairs}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return mask_phone_numbers(line)


def wants_human(stream: TextIO, env: Mapping[str, str]) -> bool:
    """``RECORDER_LOG_FORMAT`` = json | text decides; otherwise text on a terminal, JSON everywhere else."""
    chosen = env.get("RECORDER_LOG_FORMAT", "").lower()
    if chosen in ("json", "text"):
        return chosen == "text"
    return stream.isatty()


def configure(level: str | None = None, stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(HumanFormatter() if wants_human(stream, os.environ) else JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    chosen = (level or os.environ.get("RECORDER_LOG_LEVEL") or "INFO").upper()
    root.setLevel(chosen if chosen in logging.getLevelNamesMapping() else "INFO")
    for noisy in ("azure", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
