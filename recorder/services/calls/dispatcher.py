"""Runs outbox commands against ACS: in order per call, in parallel across calls, with bounded retries.

Each command's outbox id is sent as its Repeatability-Request-ID, so a retry after a crash or a timeout is
recognised by ACS as the same request and never doubles a recording or a prompt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.observability import crashpoints, logs, metrics
from recorder.services.calls.ports import CommandResults, DispatchUnitOfWork
from recorder.services.ports import AcsError, CallAutomation, CallRead
from recorder.services.retry import Backoff
from recorder.services.worker_loop import WorkerLoop

log = logging.getLogger("recorder.dispatcher")
T = TypeVar("T")

# Fail-safe commands are retried quickly and few times: while a pause fails, ACS may be recording someone who
# did not agree, and once it has failed for good the recording is stopped (or the call ended) instead.
DB_PATIENCE_S = 60.0
QUICK_RETRIES = {"PauseRecording": (3, 0.1), "StopRecording": (3, 0.1)}  # attempts, first backoff (s)


class NotReady(Exception):
    """The command cannot run yet (an id it needs has not arrived); try again shortly."""


class Dispatcher(WorkerLoop):
    def __init__(
        self,
        unit_of_work: Callable[[], DispatchUnitOfWork],
        acs: CallAutomation,
        calls: CommandResults,
        callback_url: Callable[[str], str],
        clock: Callable[[], datetime],
        *,
        max_attempts: int = 6,
        base_backoff: float = 0.5,
        workers: int = 8,
        poll_interval: float = 0.5,
        lease: timedelta = timedelta(seconds=30),
        wakeup: threading.Event | None = None,
        recording_destination: Callable[[str], str | None] = lambda call_id: None,
        database_unavailable: tuple[type[Exception], ...] = (),
    ) -> None:
        """``database_unavailable``: the errors of a database away for a moment (a restart, a failover),
        which the dispatcher's own reads and writes outlast (the unit of work's ``UNAVAILABLE``)."""
        self._uow = unit_of_work
        self._acs = acs
        self._calls = calls
        self._callback_url = callback_url
        self._clock = clock
        self._max_attempts = max_attempts
        self._base_backoff = base_backoff
        super().__init__("outbox", workers, poll_interval, log, wakeup, clock)
        self._lease = lease  # how long a crashed instance's claim blocks a retry
        self._workers = workers
        # bring-your-own-storage: call id -> the container ACS writes the recording into (None: ACS keeps it)
        self._recording_destination = recording_destination
        self._unavailable = database_unavailable
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()

    def backlog(self) -> tuple[int, float]:
        """Pending commands and the age in seconds of the oldest (readiness, metrics)."""
        with self._uow() as uow:
            return uow.outbox.stats(self._clock())

    def run_once(self, limit: int = 64) -> int:
        """Claim the ready commands (one per call, no more than the pool runs at once), run them; returns how
        many were taken. Claims are leased, so other instances skip them (FOR UPDATE SKIP LOCKED)."""
        claimed = self._claim(min(limit, self._workers))
        futures = [self._pool.submit(self._run, command_id, call_id) for command_id, call_id in claimed]
        return sum(1 for f in futures if f.result())

    def run_round(self) -> int:
        """The loop's round: claim what the free workers can take and hand it over without waiting for it, so
        a slow ACS request holds back only its own call's next command (``run_once`` waits for the whole
        batch: one slow request held back every call). A finished command wakes the loop: its call's next
        command may be ready."""
        with self._in_flight_lock:
            free = self._workers - self._in_flight
        if free <= 0:
            return 0
        claimed = self._claim(free)
        for command_id, call_id in claimed:
            self.hand_over(command_id, call_id)
        return len(claimed)

    def hand_over(self, command_id: str, call_id: str) -> None:
        """Run a claimed command on the pool, counted in flight until it finishes: the loop's claims, and
        the call service's (the safe-first path: the pause a newcomer's arrival decides goes out at once,
        without waiting for a round)."""
        with self._in_flight_lock:
            self._in_flight += 1
        try:
            self._pool.submit(self._run, command_id, call_id).add_done_callback(self._finished)
        except RuntimeError:  # stopping: the claim's lease runs out and another instance runs it
            with self._in_flight_lock:
                self._in_flight -= 1
            log.warning("outbox.hand_over_while_stopping", extra={"call_id": call_id})

    @property
    def running(self) -> bool:
        """The loop runs (``serve``): a command handed over will be run."""
        return self.alive and not self._stopping.is_set()

    def _claim(self, limit: int) -> list[tuple[str, str]]:
        with self._uow() as uow:
            claimed = uow.outbox.claim_ready(self._clock(), limit, self._lease)
            uow.commit()
        return claimed

    def _finished(self, future: Future[bool]) -> None:
        with self._in_flight_lock:
            self._in_flight -= 1
        failure = future.exception()
        if failure is not None:  # the lease lets it run again
            log.error("outbox.command_crashed", exc_info=failure)
        self.wake()

    def _run(self, command_id: str, call_id: str) -> bool:
        """Run a claimed command, then each next command of its call that finishing it claimed."""
        next_id: str | None = command_id
        while next_id is not None:
            next_id = self._run_one(next_id, call_id)
        return True

    def _run_one(self, command_id: str, call_id: str) -> str | None:
        claimed = self._durably(lambda: self._load(command_id, call_id))
        command, attempts, in_doubt, withheld, target, ids = claimed
        with logs.call_context(call_id=call_id, callConnectionId=target.connection_id, **ids):
            if in_doubt and isinstance(command, fx.PromptParticipant):
                return self._leave_in_doubt(command_id, target)
            if withheld and isinstance(command, fx.PromptParticipant):
                return self._withhold(command, command_id, target)
            return self._run_claimed(command, command_id, target, attempts)

    def _load(
        self, command_id: str, call_id: str
    ) -> tuple[fx.Command, int, bool, bool, _Target, dict[str, str | None]]:
        with self._uow() as uow:
            queued = uow.outbox.load(command_id)
            command = queued.command
            call = uow.calls.row(call_id)
            assert call is not None
            ids = {"serverCallId": call.server_call_id, "correlationId": call.correlation_id}
            withheld = isinstance(command, fx.PromptParticipant) and _may_be_recording(uow, call_id)
            target = _Target(
                call_id, call.call_connection_id, call.recording_id, call.direction, queued.first_attempt_at
            )
            return command, queued.attempts, queued.in_doubt, withheld, target, ids

    def _durably(self, work: Callable[[], T]) -> T:
        """Run database work again while the database is unreachable (a restart, a failover): a claimed
        command left unread or unfinished would block its call's next one until the lease ends. Gives up (and
        lets the lease decide) after about DB_PATIENCE_S."""
        delay, waited = 0.2, 0.0
        while True:
            try:
                return work()
            except self._unavailable:
                if waited >= DB_PATIENCE_S:
                    raise
                log.warning("outbox.database_unavailable", extra={"retry_in_s": delay})
                time.sleep(delay)
                waited, delay = waited + delay, min(delay * 2, 5.0)

    def _retry_later(self, command_id: str, delay: float, error: str) -> None:
        with self._uow() as uow:
            uow.outbox.retry_later(command_id, self._clock() + timedelta(seconds=delay), error)
            uow.commit()

    def _withhold(self, command: fx.PromptParticipant, command_id: str, target: _Target) -> str | None:
        """Its turn came, but ACS may be recording again (it resumed by itself since the prompt was decided):
        nobody is prompted while ACS may be recording them. The call asks again once ACS has stopped."""
        log.warning("outbox.prompt_withheld", extra={"call_id": target.call_id})
        metrics.COMMANDS.labels("PromptParticipant", "withheld").inc()
        withheld = ev.PromptWithheld(self._clock(), command.raw_id, command.attempt)
        finish = self._calls.command_finished
        return self._durably(
            lambda: finish(target.call_id, command_id, "done", withheld, "withheld: ACS may record")
        )

    def _leave_in_doubt(self, command_id: str, target: _Target) -> str | None:
        """A prompt whose last attempt died with its instance may have reached ACS, which would run a second
        one: at most once, then. If it never got there, its answer is overdue and it is asked again."""
        log.warning(
            "outbox.in_doubt_not_resent", extra={"call_id": target.call_id, "command": "PromptParticipant"}
        )
        metrics.COMMANDS.labels("PromptParticipant", "in_doubt").inc()
        finish = self._calls.command_finished
        return self._durably(
            lambda: finish(target.call_id, command_id, "done", None, "in doubt: not sent again")
        )

    def _run_claimed(
        self, command: fx.Command, command_id: str, target: _Target, attempts: int
    ) -> str | None:
        """Run it against ACS; returns the call's next command when finishing this one claimed it."""
        kind, call_id = type(command).__name__, target.call_id
        try:
            crashpoints.hit(f"dispatch.before_acs.{kind}")
            with metrics.COMMAND_SECONDS.labels(kind).time():
                result = self._execute(command, command_id, target)
            crashpoints.hit(f"dispatch.after_acs.{kind}")
        except NotReady as exc:
            return self._retry_or_fail(command, command_id, call_id, attempts, str(exc), transient=True)
        except AcsError as exc:
            error, transient = str(exc), exc.transient
            return self._retry_or_fail(command, command_id, call_id, attempts, error, transient=transient)
        except Exception as exc:  # an adapter bug must not wedge the call's queue
            log.exception("outbox.command_crashed", extra={"call_id": call_id, "command": kind})
            return self._retry_or_fail(command, command_id, call_id, attempts, repr(exc), transient=True)
        # ACS has done it: what it answered is kept even if the database is away for a while
        next_id = self._durably(lambda: self._calls.command_finished(call_id, command_id, "done", result))
        log.info("outbox.done", extra={"call_id": call_id, "command": type(command).__name__})
        metrics.COMMANDS.labels(kind, "done").inc()
        return next_id

    def _retry_or_fail(
        self,
        command: fx.Command,
        command_id: str,
        call_id: str,
        attempts: int,
        error: str,
        *,
        transient: bool,
    ) -> str | None:
        """Later, or failed for good; returns the call's next command when failing this one claimed it."""
        name = type(command).__name__
        max_attempts, base_backoff = QUICK_RETRIES.get(name, (self._max_attempts, self._base_backoff))
        delay = Backoff(base_backoff, max_attempts=max_attempts).delay(attempts, transient=transient)
        if delay is not None:
            self._durably(lambda: self._retry_later(command_id, delay, error))
            log.warning("outbox.retry", extra={"call_id": call_id, "command": name, "attempts": attempts})
            metrics.COMMANDS.labels(name, "retry").inc()
            return None
        log.error("outbox.failed", extra={"call_id": call_id, "command": name, "error": error})
        metrics.COMMANDS.labels(name, "failed").inc()
        target, attempt = "", 0
        if isinstance(command, fx.PromptParticipant):
            target, attempt = command.raw_id, command.attempt
        elif isinstance(command, fx.WatchForWithdrawal):
            target = command.raw_id
        failed = ev.CommandFailed(self._clock(), name, error, target, attempt)
        return self._durably(
            lambda: self._calls.command_finished(call_id, command_id, "failed", failed, error)
        )

    def _execute(self, command: fx.Command, request_id: str, target: _Target) -> ev.CallEvent | None:
        acs, call_id, connection_id = self._acs, target.call_id, target.connection_id
        first_sent = target.first_sent
        match command:
            case fx.AnswerCall() | fx.ConnectCall() | fx.CreateCall():
                return self._join(command, request_id, target)
            case fx.HangUp():
                acs.hang_up(_needed(connection_id, "call connection id"), request_id, first_sent=first_sent)
            case fx.PromptParticipant():
                acs.prompt_for_consent(
                    _needed(connection_id, "call connection id"),
                    command.raw_id,
                    command.prompt,
                    command.silence_timeout_seconds,
                    command.operation_context,
                    request_id,
                )
            case fx.WatchForWithdrawal():
                connection = _needed(connection_id, "call connection id")
                acs.watch_dtmf(connection, command.raw_id, command.operation_context, request_id)
            case fx.StartRecording():
                connection = _needed(connection_id, "call connection id")
                started = acs.start_recording(
                    connection,
                    self._callback_url(call_id),
                    request_id,
                    destination_container_url=self._recording_destination(call_id),
                    first_sent=first_sent,
                )
                return ev.RecordingStarted(self._clock(), started)
            case fx.PauseRecording() | fx.ResumeRecording() | fx.StopRecording():
                return self._change_recording(command, request_id, target.recording_id)
            case fx.ReadCallState():
                return self._read(target)
        return None

    def _join(self, command: fx.Command, request_id: str, target: _Target) -> ev.CallEvent:
        """Answer, connect to or place a call: the commands that give the call its connection."""
        acs, callback, first_sent = self._acs, self._callback_url(target.call_id), target.first_sent
        match command:
            case fx.AnswerCall():
                answered = acs.answer_call(
                    command.incoming_call_context,
                    callback,
                    request_id,
                    first_sent=first_sent,
                )
                return ev.CallAnswered(self._clock(), answered.call_connection_id, answered.own_identities)
            case fx.ConnectCall():
                joined = acs.connect_call(command.server_call_id, callback, request_id, first_sent=first_sent)
                return ev.CallAnswered(self._clock(), joined.call_connection_id, joined.own_identities)
            case fx.CreateCall():
                placed = acs.create_call(
                    command.target,
                    command.source_caller_id,
                    callback,
                    request_id,
                    first_sent=first_sent,
                )
                return ev.CallPlaced(
                    self._clock(), placed.call_connection_id, placed.server_call_id, placed.own_identities
                )
        raise AssertionError(f"not a command that joins a call: {command!r}")

    def _change_recording(
        self, command: fx.Command, request_id: str, recording_id: str | None
    ) -> ev.CommandDone:
        if recording_id is None:
            raise AcsError("no recording to change: it never started", transient=False)
        {
            fx.PauseRecording: self._acs.pause_recording,
            fx.ResumeRecording: self._acs.resume_recording,
            fx.StopRecording: self._acs.stop_recording,
        }[type(command)](recording_id, request_id)
        return ev.CommandDone(self._clock(), type(command).__name__)

    def _read(self, target: _Target) -> ev.StateRead:
        asked_at = self._clock()
        connection = _needed(target.connection_id, "call connection id")
        read = self._acs.read_call(
            connection, target.recording_id, properties=True, direction=target.direction
        )
        return state_read(asked_at, read, target.recording_id)


def state_read(asked_at: datetime, read: CallRead, recording_id: str | None) -> ev.StateRead:
    """What ACS answered, as the synthetic event the domain takes; timed when the question was asked."""
    return ev.StateRead(
        asked_at, read.connected, read.participants, read.own_identities, recording_id, read.recording
    )


@dataclass(frozen=True)
class _Target:
    """The call a command is for, as the outbox row and the call row name it."""

    call_id: str
    connection_id: str | None
    recording_id: str | None
    direction: str  # inbound, outbound or connect
    first_sent: datetime | None  # the command's first attempt: Repeatability-First-Sent


def _may_be_recording(uow: DispatchUnitOfWork, call_id: str) -> bool:
    state = uow.calls.get(call_id)
    return state is not None and state.may_be_recording


def _needed(value: str | None, what: str) -> str:
    if value is None:
        raise NotReady(f"waiting for the {what}")
    return value
