"""The ``[operations]`` table: the metrics token, shutdown draining and the dispatcher's readiness limit.

Each key is also an environment variable (``RECORDER_METRICS_TOKEN``, …), which wins over the file.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from recorder.config.fields import Bounded, Table, problem

MIN_METRICS_TOKEN = 16
SECONDS = "seconds from {low:g} to {high:g}"


def _token(value: Any) -> Any:
    if isinstance(value, str) and len(value) < MIN_METRICS_TOKEN:
        raise problem(f"expected at least {MIN_METRICS_TOKEN} characters (got {len(value)} characters)")
    return value


class OperationsSettings(Table):
    metrics_token: Annotated[str | None, BeforeValidator(_token)] = Field(
        None,
        repr=False,
        description=f"bearer token for GET /metrics ({MIN_METRICS_TOKEN}+ characters); unset: /metrics "
        "answers 404. A secret: set it in the environment.",
    )
    drain_seconds: Annotated[float, Bounded(0, 300, SECONDS, whole=False)] = Field(
        0.0, description="after SIGTERM, webhooks and /readyz answer 503 this long before the service stops"
    )
    dispatcher_stall_seconds: Annotated[float, Bounded(5, 3600, SECONDS, whole=False)] = Field(
        60.0, description="/readyz fails when the outbox dispatcher has not run for this long"
    )
