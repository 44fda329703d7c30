"""Query-string values of the API and the console, checked before any query runs: ASCII digits only, times
with a zone and inside what every backend can store, known names only. Each problem is a ``BadQuery``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal, get_args

from recorder.services.queries.ledger import BadQuery, in_stored_range

LedgerOutcome = Literal["granted", "declined", "no_response", "withdrawn", "exempt"]
OUTCOMES = frozenset(get_args(LedgerOutcome))
MAX_LIMIT = 500
DIGITS = re.compile(r"[0-9]{1,6}")


def only(params: Iterable[str], allowed: set[str]) -> None:
    unknown = set(params) - allowed
    if unknown:
        raise BadQuery(f"unknown parameters: {', '.join(sorted(unknown))}")


def limit(params: Mapping[str, str], default: int = 100) -> int:
    text = params.get("limit")
    if text is None:
        return default
    if not DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def outcome(value: str | None) -> str | None:
    if value is not None and value not in OUTCOMES:
        raise BadQuery(f"outcome must be one of {', '.join(sorted(OUTCOMES))}")
    return value


def moment(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 time with a zone (Z or an offset), in UTC; None when absent."""
    if value is None:
        return None
    if not value.isascii() or len(value) > 64:
        raise BadQuery(f"{name} must be an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadQuery(f"{name} must be an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise BadQuery(f"{name} must carry a time zone (e.g. Z)")
    return in_stored_range(parsed, name)
