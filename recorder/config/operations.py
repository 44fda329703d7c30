"""Operations settings: the metrics token, shutdown draining and the dispatcher's readiness limit.

Environment variables win over the ``[operations]`` table of the TOML file, as for every other setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MIN_METRICS_TOKEN = 16


@dataclass(frozen=True)
class OperationsSettings:
    metrics_token: str | None = field(default=None, repr=False)  # unset: GET /metrics answers 404
    drain_seconds: float = 0.0  # after SIGTERM: webhooks and /readyz answer 503 this long before stopping
    dispatcher_stall_seconds: float = 60.0  # /readyz fails when the dispatcher loop has not run for this long


def load_operations(env: Mapping[str, str], section: Any, problems: list[str]) -> OperationsSettings:
    if not isinstance(section, dict):
        problems.append("operations: expected a table ([operations])")
        section = {}

    def value(variable: str, key: str) -> tuple[Any, str]:
        """The raw value and the name of where it came from, for the problem message."""
        if variable in env:
            return env[variable], variable
        return section.get(key), f"operations.{key}"

    token, where = value("RECORDER_METRICS_TOKEN", "metrics_token")
    if token is not None and (not isinstance(token, str) or len(token) < MIN_METRICS_TOKEN):
        problems.append(
            f"{where}: expected at least {MIN_METRICS_TOKEN} characters (got {len(str(token))} characters)"
        )
        token = None
    drain = _seconds(*value("RECORDER_DRAIN_SECONDS", "drain_seconds"), 0, 0, 300, problems)
    stall = _seconds(
        *value("RECORDER_DISPATCHER_STALL_SECONDS", "dispatcher_stall_seconds"), 60, 5, 3600, problems
    )
    return OperationsSettings(
        metrics_token=token or None, drain_seconds=drain, dispatcher_stall_seconds=stall
    )


def _seconds(raw: Any, name: str, default: float, low: float, high: float, problems: list[str]) -> float:
    if raw is None or raw == "":
        return float(default)
    try:
        number = float(raw)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(raw, bool) or not low <= number <= high:
        problems.append(f"{name}: expected seconds from {low:g} to {high:g} (got {raw!r})")
        return float(default)
    return number
