"""What the service publishes: a CloudEvent as a subscriber will receive it. The event queue hands these out
(``db/repositories/events.py``) and the topic's port sends them (``services/ports.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class OutgoingEvent:
    """A CloudEvent as a subscriber will receive it."""

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    data: dict[str, Any]
