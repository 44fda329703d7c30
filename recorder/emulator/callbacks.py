"""Delivery of callbacks and Event Grid events: in order per call, never blocking a REST response.

Each call has its own FIFO queue drained by one asyncio task, so a slow receiver delays only that call's
events. A delivery that fails with a connection error or a 5xx is retried with a short backoff; every attempt
is recorded on the call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from recorder.emulator.signing import CallbackSigner
from recorder.emulator.state import CallbackAttempt

log = logging.getLogger("recorder.emulator")

MAX_RETRIES = 5
BACKOFF_S = 0.1
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Delivery:
    """One POST: a CloudEvent batch to a callback URI (``eventgrid=False``) or an Event Grid batch."""

    url: str
    payload: list[dict[str, Any]]
    event_type: str
    record: Callable[[CallbackAttempt], None]
    eventgrid: bool = False


def redact_url(url: str) -> str:
    """The URL without its query, which may hold a secret."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class CallbackDispatcher:
    def __init__(
        self,
        signer: CallbackSigner,
        *,
        issuer: str,
        audience: str,
        max_retries: int = MAX_RETRIES,
        backoff_s: float = BACKOFF_S,
    ) -> None:
        self._signer = signer
        self._issuer = issuer
        self._audience = audience
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._queues: dict[str, deque[Delivery]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._client: httpx.AsyncClient | None = None

    def submit(self, queue_key: str, delivery: Delivery) -> None:
        """Queue ``delivery`` behind the earlier ones for ``queue_key``; must run on the event loop."""
        self._queues.setdefault(queue_key, deque()).append(delivery)
        worker = self._workers.get(queue_key)
        if worker is None or worker.done():
            self._workers[queue_key] = asyncio.get_running_loop().create_task(self._drain(queue_key))

    async def idle(self) -> None:
        """Wait until every queued delivery has been made (or given up on)."""
        while any(not worker.done() for worker in self._workers.values()):
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    def cancel_all(self) -> None:
        for worker in self._workers.values():
            worker.cancel()
        self._workers.clear()
        self._queues.clear()

    async def aclose(self) -> None:
        workers = list(self._workers.values())
        self.cancel_all()
        await asyncio.gather(*workers, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _drain(self, queue_key: str) -> None:
        queue = self._queues[queue_key]
        # Nothing else runs between the emptiness check and returning, so submit() never strands an item.
        while queue:
            await self._deliver(queue.popleft())
        del self._queues[queue_key]

    async def _deliver(self, delivery: Delivery) -> None:
        body = json.dumps(delivery.payload).encode("utf-8")
        for attempt in range(1, self._max_retries + 2):
            status: int | None = None
            error: str | None = None
            sent_at = time.monotonic()
            try:
                response = await self._http().post(
                    delivery.url, content=body, headers=self._headers(delivery, attempt)
                )
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            delivery.record(
                CallbackAttempt(
                    time.monotonic(),
                    delivery.event_type,
                    attempt,
                    redact_url(delivery.url),
                    status,
                    error,
                    sent_at,
                )
            )
            if status is not None and status < 500:
                if status >= 300:
                    log.warning("emulator.callback.rejected type=%s status=%s", delivery.event_type, status)
                return
            if attempt <= self._max_retries:
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
        log.warning(
            "emulator.callback.abandoned type=%s url=%s", delivery.event_type, redact_url(delivery.url)
        )

    def _headers(self, delivery: Delivery, attempt: int) -> dict[str, str]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if delivery.eventgrid:
            headers.update(
                {
                    "aeg-event-type": "Notification",
                    "aeg-subscription-name": "ACS-EMULATOR-INCOMING-CALL",
                    "aeg-delivery-count": str(attempt - 1),
                    "aeg-data-version": "1.0",
                    "aeg-metadata-version": "1",
                }
            )
        else:
            token = self._signer.token(issuer=self._issuer, audience=self._audience)
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # trust_env=False: a proxy configured for the machine must not capture loopback deliveries.
            self._client = httpx.AsyncClient(timeout=TIMEOUT_S, trust_env=False, follow_redirects=False)
        return self._client
