"""Sends the event outbox to the topic: in order per call, at least once, retried with backoff, never dropped.

Events have their own queue (``event_outbox``), apart from the ACS command outbox: a topic that is down
delays only events, never a prompt or a recording command. Per call, only the oldest unsent event can be
claimed; whoever claims it sends it together with the call's next unsent events, in order, in one request.
A failure puts the whole call's queue back with exponential backoff (capped), with no attempt limit: the
rows stay until the topic takes them, across restarts. A crash between sending and marking re-sends the same
events with the same ids (at least once; subscribers de-duplicate by id).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from recorder.services.ports import EventPublisher, PublishError
from recorder.services.publishing.ports import PublishUnitOfWork
from recorder.services.retry import Backoff
from recorder.services.worker_loop import WorkerLoop

log = logging.getLogger("recorder.publisher")


class Publisher(WorkerLoop):
    def __init__(
        self,
        unit_of_work: Callable[[], PublishUnitOfWork],
        topic: EventPublisher,
        clock: Callable[[], datetime],
        *,
        batch: int = 50,
        base_backoff: float = 1.0,
        max_backoff: float = 60.0,
        workers: int = 4,
        poll_interval: float = 0.5,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self._uow = unit_of_work
        self._topic = topic
        self._clock = clock
        self._batch = batch
        self._backoff = Backoff(base_backoff, cap=max_backoff)
        super().__init__("publisher", workers, poll_interval, log)
        self._lease = lease

    def run_once(self, limit: int = 64) -> int:
        """Send what is due, one request per call with due events; returns how many events went out."""
        with self._uow() as uow:
            ready = uow.events.ready_heads(self._clock(), limit)
        futures = [self._pool.submit(self._send_call, head_id, call_id) for head_id, call_id in ready]
        return sum(f.result() for f in futures)

    def _send_call(self, head_id: str, call_id: str) -> int:
        now = self._clock()
        with self._uow() as uow:
            if not uow.events.claim(head_id, now, self._lease):
                return 0
            uow.commit()
            events, attempts = uow.events.unsent(call_id, self._batch)
        try:
            self._topic.publish(events)
        except PublishError as exc:
            return self._retry_later(head_id, call_id, attempts, str(exc))
        except Exception as exc:  # an adapter bug must not wedge the call's events
            log.exception("events.publish_crashed", extra={"call_id": call_id})
            return self._retry_later(head_id, call_id, attempts, repr(exc))
        with self._uow() as uow:
            uow.events.published([e.id for e in events], self._clock())
            uow.commit()
        log.info("events.published", extra={"call_id": call_id, "count": len(events)})
        return len(events)

    def _retry_later(self, head_id: str, call_id: str, attempts: int, error: str) -> int:
        delay = self._backoff.delay(attempts)
        assert delay is not None  # events are never given up on
        with self._uow() as uow:
            uow.events.retry_later(head_id, self._clock() + timedelta(seconds=delay), error[:2000])
            uow.commit()
        log.warning(
            "events.publish_failed",
            extra={"call_id": call_id, "attempts": attempts, "retry_in_s": delay, "error": error[:200]},
        )
        return 0

    def backlog(self) -> tuple[int, float]:
        """Unsent events and the age in seconds of the oldest, for health checks and operators."""
        with self._uow() as uow:
            return uow.events.stats(self._clock())
