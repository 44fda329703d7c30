"""How the services show a stored row to the web and the CLI: the fields asked for, as JSON values."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def fields(row: object, *names: str) -> dict[str, Any]:
    """``row``'s ``names``, in that order: a datetime as ISO 8601 text, anything else (None too) as it is."""
    values = {name: getattr(row, name) for name in names}
    return {name: v.isoformat() if isinstance(v, datetime) else v for name, v in values.items()}
