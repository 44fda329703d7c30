"""Delivery of callbacks and Event Grid events, never blocking a REST response.

Callbacks: each call has its own FIFO queue drained by one asyncio task, so a slow receiver delays only that
call's events. ACS documents no redelivery of callbacks, so by default a failed one is gone
(``callback_retries = 0``); every attempt is recorded on the call. Event Grid deliveries follow Event Grid's
own rules (``eventgrid.py``): unordered, retried with backoff, dropped on 400/401/403/413, sometimes twice.
Fault rules (``faults.py``) can drop, delay, duplicate or reorder either kind before it is sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from recorder.emulator.faults import CallbackFault, FaultBook
from recorder.emulator.signing import CallbackSigner
from recorder.emulator.state import CallbackAttempt

if TYPE_CHECKING:
    from recorder.emulator.behaviour import Behaviour
    from recorder.emulator.eventgrid import EventGridSender

log = logging.getLogger("recorder.emulator")

BACKOFF_S = 0.1
TIMEOUT_S = 10.0
REORDER_WAIT_S = 2.0  # a reorder rule that never collects its count sends what it holds after this


@dataclass(frozen=True)
class Delivery:
    """One POST: a CloudEvent batch to a callback URI (``eventgrid=False``) or an Event Grid batch."""

    url: str
    payload: list[dict[str, Any]]
    event_type: str
    record: Callable[[CallbackAttempt], None]
    eventgrid: bool = False
    server_call_id: str | None = None
    retries: int = 0
    note: str | None = field(default=None, compare=False)  # why a fault touched it, for the timeline


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
        faults: FaultBook | None = None,
        time_scale: float = 1.0,
        backoff_s: float = BACKOFF_S,
    ) -> None:
        self._signer = signer
        self._issuer = issuer
        self._audience = audience
        self._faults = faults or FaultBook()
        self._time_scale = time_scale
        self._backoff_s = backoff_s
        self._queues: dict[str, deque[Delivery]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._held: dict[str, list[Delivery]] = {}  # reorder rule: deliveries waiting for their count
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._client: httpx.AsyncClient | None = None
        self.eventgrid: EventGridSender | None = None

    # Submitting ---------------------------------------------------------------------------------------

    def submit(self, queue_key: str, delivery: Delivery) -> None:
        """Queue ``delivery`` behind the earlier ones for ``queue_key``, after any fault rule applies."""
        fault = self._faults.take_callback_fault(delivery.event_type, delivery.server_call_id)
        if fault is None:
            self._enqueue(queue_key, delivery)
        else:
            self._apply_fault(queue_key, delivery, fault)

    def submit_eventgrid(self, queue_key: str, delivery: Delivery, behaviour: Behaviour) -> None:
        """Event Grid delivers each event on its own, in no particular order."""
        assert self.eventgrid is not None, "the Event Grid sender is not set up"
        sender = self.eventgrid
        fault = self._faults.take_callback_fault(delivery.event_type, delivery.server_call_id)
        if fault is not None and fault.kind == "drop_callback":
            self._record_dropped(delivery)
            return
        delay_s = (
            fault.delay_ms / 1000 * self._time_scale if fault and fault.kind == "delay_callback" else 0.0
        )
        copies = 2 if fault is not None and fault.kind == "duplicate_callback" else 1
        for _ in range(copies):
            self._spawn(sender.deliver(delivery, behaviour, delay_s))

    def _apply_fault(self, queue_key: str, delivery: Delivery, fault: CallbackFault) -> None:
        if fault.kind == "drop_callback":
            self._record_dropped(delivery)
        elif fault.kind == "duplicate_callback":
            self._enqueue(queue_key, delivery)
            self._enqueue(queue_key, replace(delivery, note="duplicate (fault)"))
        elif fault.kind == "delay_callback":
            later = asyncio.get_running_loop().call_later(
                fault.delay_ms / 1000 * self._time_scale, self._enqueue, queue_key, delivery
            )
            self._timers.add(later)
        else:
            self._hold_for_reorder(queue_key, delivery, fault)

    def _hold_for_reorder(self, queue_key: str, delivery: Delivery, fault: CallbackFault) -> None:
        held = self._held.setdefault(queue_key, [])
        held.append(replace(delivery, note="reordered (fault)"))
        if fault.remaining <= 0:  # the rule's last one: release them all, newest first
            self._release_held(queue_key)
        elif len(held) == 1:
            later = asyncio.get_running_loop().call_later(REORDER_WAIT_S, self._release_held, queue_key)
            self._timers.add(later)

    def _release_held(self, queue_key: str) -> None:
        for delivery in reversed(self._held.pop(queue_key, [])):
            self._enqueue(queue_key, delivery)

    def _record_dropped(self, delivery: Delivery) -> None:
        now = time.monotonic()
        url = redact_url(delivery.url)
        delivery.record(CallbackAttempt(now, delivery.event_type, 0, url, None, "dropped (fault)", now))

    def _enqueue(self, queue_key: str, delivery: Delivery) -> None:
        self._queues.setdefault(queue_key, deque()).append(delivery)
        worker = self._workers.get(queue_key)
        if worker is None or worker.done():
            self._workers[queue_key] = asyncio.get_running_loop().create_task(self._drain(queue_key))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Lifecycle ----------------------------------------------------------------------------------------

    async def idle(self) -> None:
        """Wait until every queued delivery has been made (or given up on)."""
        while any(not worker.done() for worker in [*self._workers.values(), *self._tasks]):
            await asyncio.gather(*self._workers.values(), *self._tasks, return_exceptions=True)

    def cancel_all(self) -> None:
        for worker in [*self._workers.values(), *self._tasks]:
            worker.cancel()
        for timer in self._timers:
            timer.cancel()
        self._workers.clear()
        self._queues.clear()
        self._held.clear()
        self._timers.clear()

    async def aclose(self) -> None:
        workers = [*self._workers.values(), *self._tasks]
        self.cancel_all()
        await asyncio.gather(*workers, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # Sending -------------------------------------------------------------------------------------------

    async def _drain(self, queue_key: str) -> None:
        queue = self._queues[queue_key]
        # Nothing else runs between the emptiness check and returning, so submit() never strands an item.
        while queue:
            await self._deliver(queue.popleft())
        del self._queues[queue_key]

    async def _deliver(self, delivery: Delivery) -> None:
        for attempt in range(1, delivery.retries + 2):
            status = await self.post(delivery, attempt, self._headers())
            if status is not None and status < 500:
                if status >= 300:
                    log.warning("emulator.callback.rejected type=%s status=%s", delivery.event_type, status)
                return
            if attempt <= delivery.retries:
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
        log.warning("emulator.callback.lost type=%s url=%s", delivery.event_type, redact_url(delivery.url))

    async def post(self, delivery: Delivery, attempt: int, headers: dict[str, str]) -> int | None:
        """One POST of ``delivery``; records the attempt and returns the status (None: no answer)."""
        response = await self._send(delivery, attempt, headers)
        return None if response is None else response.status_code

    async def post_for_json(self, delivery: Delivery, attempt: int, headers: dict[str, str]) -> Any:
        """One POST whose 200 answer's JSON matters (Event Grid's validation handshake)."""
        response = await self._send(delivery, attempt, headers)
        if response is None or response.status_code != 200:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    async def _send(self, delivery: Delivery, attempt: int, headers: dict[str, str]) -> httpx.Response | None:
        body = json.dumps(delivery.payload).encode("utf-8")
        response: httpx.Response | None = None
        error = delivery.note
        sent_at = time.monotonic()
        try:
            response = await self._http().post(delivery.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        status = None if response is None else response.status_code
        url = redact_url(delivery.url)
        delivery.record(
            CallbackAttempt(time.monotonic(), delivery.event_type, attempt, url, status, error, sent_at)
        )
        return response

    def _headers(self) -> dict[str, str]:
        token = self._signer.reusable_token(issuer=self._issuer, audience=self._audience)
        return {"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {token}"}

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # trust_env=False: a proxy configured for the machine must not capture loopback deliveries.
            self._client = httpx.AsyncClient(timeout=TIMEOUT_S, trust_env=False, follow_redirects=False)
        return self._client
