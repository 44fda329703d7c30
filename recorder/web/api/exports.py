"""Streaming ledger exports (API and console) whose failures are never a 500 nor a silently short file.

The first batch is read before the response starts, so whatever fails at once (a filter the database cannot
take, an unreachable database) is an ordinary error answer. A failure after the first bytes were sent cannot
change the status any more: it is logged on one line and the connection is cut without the final chunk, so
the client sees an incomplete download instead of a complete-looking one.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from recorder.bootstrap import Container
from recorder.services.queries import compliance as cq
from recorder.services.queries.ledger import LedgerFilter
from recorder.web.errors import ApiError

log = logging.getLogger("recorder.exports")


class ExportAborted(Exception):
    """Raised into the ASGI stack once an export cannot go on; ``CutAbortedStreams`` ends the connection."""


def export_response(container: Container, filters: LedgerFilter, fmt: str) -> StreamingResponse:
    """The streaming body for an export whose access was already authorized and audited."""
    batches = cq.ledger_batches(container.engine, filters)
    try:
        first = list(itertools.islice(batches, 1))
    except SQLAlchemyError as exc:
        log.warning("export.refused", extra={"error": type(exc).__name__})
        raise ApiError(503, "export_unavailable", "the export could not be started; retry") from None
    rows: Iterator[Sequence[Any]] = guarded_rows(itertools.chain(first, batches))
    if fmt == "jsonl":
        body, media, suffix = cq.export_jsonl(rows), "application/x-ndjson", "jsonl"
    else:
        body, media, suffix = cq.export_csv(rows), "text/csv; charset=utf-8", "csv"
    headers = {"Content-Disposition": f'attachment; filename="consent-ledger.{suffix}"'}
    return StreamingResponse(body, media_type=media, headers=headers)


def guarded_rows(batches: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    try:
        yield from batches
    except SQLAlchemyError as exc:
        log.error("export.aborted", extra={"error": type(exc).__name__})
        raise ExportAborted from None


class CutAbortedStreams:
    """ASGI middleware: an ``ExportAborted`` ends the request without completing the response, so the server
    closes the connection (the client sees a truncated transfer); nothing else is caught here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ExportAborted:
            return
