"""Query-string values of the API and the console, checked before any query runs (``models/reads.py`` uses
them): ASCII digits only, times with a zone and inside what every backend can store. Each problem is a
``BadQuery``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal, get_args

from recorder.services.queries.ledger import BadQuery, in_stored_range

LedgerOutcome = Literal["granted", "declined", "no_response", "withdrawn", "exempt"]
OUTCOMES = frozenset(get_args(LedgerOutcome))
MAX_LIMIT = 500
DIGITS = re.compile(r"[0-9]{1,6}")


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
