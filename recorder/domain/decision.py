"""A decision: the new state, the commands for ACS and the records to keep, in that order."""

from __future__ import annotations

from dataclasses import dataclass

from recorder.domain import effects as fx
from recorder.domain.model import CallState


@dataclass(frozen=True)
class Decision:
    state: CallState
    commands: tuple[fx.Command, ...] = ()
    records: tuple[fx.Record, ...] = ()

    def then(self, other: Decision) -> Decision:
        return Decision(other.state, self.commands + other.commands, self.records + other.records)
