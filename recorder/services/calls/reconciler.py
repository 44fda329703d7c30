"""The reconciliation loop: level-triggered, so a lost callback never leaves a call wrong for long.

ACS does not redeliver a callback the service never got (a crash, a 503, a network fault). So at start-up and
then every ``[calls] reconcile_seconds``, for every live call, the loop reads ACS's truth (participants, the
recording's state, and the call's properties until the service knows who it is in the call) and feeds whatever
differs from the call's state into the same ``decide()`` as a synthetic ``StateRead``, audited as the
reconciler's. It also asks again when a prompt's answer is overdue (``domain.overdue``). One query finds the
live calls; reads run on a bounded pool; a call whose state agrees with ACS costs no write at all.

One pass per period, however many workers and instances: a pass holds the pass lock for at least a period
from its start, and every loop tries for it ten times a period, so whoever finds it free next passes next.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from recorder.domain.consent import decide
from recorder.domain.model import CallPhase, CallState, RecordingStatus
from recorder.domain.overdue import overdue_answer
from recorder.observability import metrics
from recorder.services.calls.consent_flow import CallService
from recorder.services.calls.dispatcher import state_read
from recorder.services.calls.ports import ReconcileUnitOfWork
from recorder.services.ports import AcsError, CallAutomation
from recorder.services.worker_loop import WorkerLoop

log = logging.getLogger("recorder.reconciler")
TRIES_PER_PERIOD = 10


class Reconciler(WorkerLoop):
    def __init__(
        self,
        unit_of_work: Callable[[], ReconcileUnitOfWork],
        acs: CallAutomation,
        calls: CallService,
        clock: Callable[[], datetime],
        *,
        period: float,
        workers: int = 8,
    ) -> None:
        super().__init__("reconcile", workers, period / TRIES_PER_PERIOD, log)
        self._uow = unit_of_work
        self._acs = acs
        self._calls = calls
        self._clock = clock
        self._period = period
        self._last_pass_end: float | None = None
        metrics.RECONCILE_PERIOD.set(period)

    def start(self) -> None:
        super().start()
        self.wake()  # the first pass at start-up: calls left mid-flight by a crash are looked at at once

    def run_round(self) -> int:
        return self.run_once(hold=self._period)

    def run_once(self, hold: float = 0.0) -> int:
        """One pass over every live call, keeping the pass lock until ``hold`` seconds from its start (the
        loop's: one pass per period); returns 0 so the loop then waits for its next try."""
        began = time.monotonic()
        with self._uow() as uow, uow.calls.pass_lock() as ours:
            if not ours:
                return 0  # another worker or instance passed less than a period ago, or is passing
            live = uow.calls.live()
            uow.commit()  # the read is over; the lock stays held on its own connection
            futures = [self._pool.submit(self.check, state, direction) for state, direction in live]
            corrected = sum(f.result() for f in futures)
            ended = time.monotonic()
            self._stopping.wait(max(0.0, hold - (ended - began)))
        metrics.RECONCILE_PASS_SECONDS.observe(ended - began)
        if self._last_pass_end is not None:
            metrics.RECONCILE_LAG.set(ended - self._last_pass_end)
        self._last_pass_end = ended
        if corrected:
            log.info("reconcile.pass", extra={"calls": len(live), "corrected": corrected})
        return 0

    def check(self, state: CallState, direction: str = "inbound") -> int:
        """Compare one call with ACS; returns how many corrections were applied (0, 1 or 2)."""
        corrected = 0
        overdue = overdue_answer(state, self._clock(), self._calls.policy)
        if overdue is not None and self._calls.reconcile(state.call_id, overdue):
            metrics.RECONCILE_CORRECTIONS.labels("answer_overdue").inc()
            corrected += 1
        assert state.call_connection_id is not None
        recording_id = state.recording_id if state.recording is not RecordingStatus.STOPPED else None
        properties = state.phase is CallPhase.ANSWERING or not state.identities_known
        asked_at = self._clock()
        try:
            read = self._acs.read_call(
                state.call_connection_id, recording_id, properties=properties, direction=direction
            )
        except AcsError as exc:
            log.warning("reconcile.read_failed", extra={"call_id": state.call_id, "error": str(exc)})
            metrics.RECONCILE_CORRECTIONS.labels("read_failed").inc()
            return corrected
        event = state_read(asked_at, read, recording_id)
        unchanged = decide(state, event, self._calls.policy)
        if unchanged.state == state and not unchanged.commands and not unchanged.records:
            return corrected  # ACS agrees with us: nothing to write
        if self._calls.reconcile(state.call_id, event):
            metrics.RECONCILE_CORRECTIONS.labels("state_read").inc()
            corrected += 1
        return corrected
