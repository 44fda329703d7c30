"""Reading one field of a control-API JSON object; each parser passes the ValueError it raises."""

from __future__ import annotations

from typing import Any


def text_field(
    data: dict[str, Any],
    name: str,
    error: type[ValueError],
    *,
    required: bool = False,
    max_length: int | None = None,
) -> str:
    """The field's non-empty string, or "" when it is absent and not required."""
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or (max_length is not None and len(value) > max_length):
        raise error(f"{name} must be a non-empty string")
    return value


def flag_field(data: dict[str, Any], name: str, error: type[ValueError], *, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise error(f"{name} must be true or false")
    return value
