"""What the compliance services need from the outside: somewhere to keep chain-head anchors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from recorder.services.errors import PortError


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    at: datetime


class AnchorStoreError(PortError):
    """The anchor store could not be read or written; the message is safe to log."""


class AnchorStore(Protocol):
    def append(self, anchor: Anchor) -> str: ...

    def anchors(self) -> list[Anchor]: ...
