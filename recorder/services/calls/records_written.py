"""A decision's records written in its unit of work: ledger rows, recording segments, failed recording
requests, and the summary the decision's audit entry carries."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from recorder.domain import effects as fx
from recorder.domain.model import CallState
from recorder.observability import metrics
from recorder.services.calls.ports import CallsUnitOfWork

log = logging.getLogger("recorder.calls")

# request rows of a call that could not be connected or placed: open -> failed, with the reason
REQUEST_OPEN, REQUEST_FAILED = "open", "failed"


@dataclass
class WrittenRecords:
    """What a decision's records wrote, as its audit entry summarises it."""

    consents: list[dict[str, Any]] = field(default_factory=list)
    segments: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    ended: dict[str, Any] | None = None


def write_records(
    uow: CallsUnitOfWork, state: CallState, records: Sequence[fx.Record], event_id: str | None, now: datetime
) -> WrittenRecords:
    written = WrittenRecords()
    for record in records:
        if isinstance(record, fx.ConsentRecorded):
            uow.ledger.add(state, record, event_id, now)
            written.consents.append({"participant": record.participant, "outcome": record.outcome})
            extra = {"call_id": state.call_id, "method": record.method, "participant": record.participant}
            log.info(f"consent.{record.outcome}", extra=extra)
            metrics.CONSENTS.labels(record.outcome).inc()
        elif isinstance(record, fx.CallEnded):
            written.ended = {"reason": record.reason, "failed": record.failed}
            if record.failed:  # a call that could not be connected or placed fails its recording requests
                uow.requests.fail_open(state.call_id, REQUEST_OPEN, REQUEST_FAILED, record.reason, now)
        elif isinstance(record, fx.Incident):
            incident = {"kind": record.kind, "detail": record.detail, "at": record.at.isoformat()}
            written.incidents.append(incident)
            log.warning(f"incident.{record.kind}", extra={"call_id": state.call_id})
            metrics.INCIDENTS.labels(record.kind).inc()
        else:
            uow.ledger.add_segment(state.call_id, record, event_id)
            written.segments.append({"kind": record.kind, "recording_id": record.recording_id})
            log.info(f"recording.{record.kind}", extra={"call_id": state.call_id})
            metrics.RECORDINGS.labels(record.kind).inc()
    return written
