"""A validation error as the operator reads it: ``WHERE: what is wrong (got VALUE)``, where WHERE is the
environment variable when the value came from (or belongs in) the environment, else its TOML path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recorder.config.fields import PROBLEM, Loc

ENV_TABLES = ("recorder", "operations", "console")  # every key of these tables is also RECORDER_<KEY>
PLAIN = {
    "missing": "required",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "dict_type": "expected a table",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
}


def variable(key: str) -> str:
    return f"RECORDER_{key.upper()}"


def where(loc: Loc, from_file: frozenset[Loc] = frozenset()) -> str:
    """``("storage", "routes", 1, "region")`` → ``storage.routes[1].region``; a key of an environment table
    is named by its variable unless the file gave it."""
    if len(loc) >= 2 and loc[0] in ENV_TABLES and isinstance(loc[1], str) and loc[:2] not in from_file:
        return variable(loc[1]) + _path(loc[2:])
    return _path(loc).lstrip(".")


def _path(loc: Loc) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def describe(error: Mapping[str, Any], prefix: Loc = (), from_file: frozenset[Loc] = frozenset()) -> str:
    loc = (*prefix, *error["loc"])
    if error["type"] == PROBLEM:
        message = error["msg"]
    elif error["type"] in PLAIN:
        message = PLAIN[error["type"]]
        if error["type"] != "missing":
            message += f" (got {error['input']!r})"
    else:
        message = f"{error['msg']} (got {error['input']!r})"
    return f"{where(loc, from_file)}: {message}"
