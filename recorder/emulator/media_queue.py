"""One queue of media operations per call, as ACS documents it (``cancel_all_media_operations`` cancels "the
ongoing and queued media operations for this call"; ``interrupt_call_media_operation`` barges into
"queued-up/currently-processing requests"). Only the head runs; each silence timer starts when its prompt has
played, after the operation reached the front. ``media_queue = "parallel"`` runs every operation at once.

While a prompt plays to one participant ACS holds them (``isOnHold``) until it ends (knob
``hold_during_prompt``). Prompt sources are checked when the operation starts (``play_sources``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from recorder.emulator import events, play_sources
from recorder.emulator.scenario import HangsUp, Outcome, ParticipantScript, Pressed, recognize_outcome
from recorder.emulator.state import Call, MediaOperation

if TYPE_CHECKING:
    from recorder.emulator.engine import Emulator

FAILED = {"play": "PlayFailed", "recognize": "RecognizeFailed"}
CANCELED = {"play": "PlayCanceled", "recognize": "RecognizeCanceled"}


class MediaQueue:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.files = play_sources.FileChecker()
        self._tasks: set[asyncio.Task[None]] = set()

    # Entering the queue -----------------------------------------------------------------------------

    def enqueue(self, call: Call, operation: MediaOperation, *, interrupt: bool) -> None:
        if call.behaviour.media_queue == "parallel":
            call.media.append(operation)
            self._start(call, operation)
            return
        if interrupt:
            for running in [op for op in call.media if op.started]:
                self._end(call, running, CANCELED, events.CANCELED)
            call.media.insert(0, operation)
        else:
            call.media.append(operation)
        self._start_head(call)

    def _start_head(self, call: Call) -> None:
        if call.media and not any(op.started for op in call.media) and call.state == "connected":
            self._start(call, call.media[0])

    def _start(self, call: Call, operation: MediaOperation) -> None:
        operation.started = True
        if not call.behaviour.validate_play_sources:
            self._run(call, operation)
            return
        linked = self.emulator.config.cognitive_services_endpoints
        failure = play_sources.linked_problem(operation.sources, call.cognitive_services_endpoint, linked)
        if failure is not None:
            self._fail(call, operation, failure)
        elif play_sources.file_urls(operation.sources):
            task = asyncio.get_running_loop().create_task(self._check_files_then_run(call, operation))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self._run(call, operation)

    async def _check_files_then_run(self, call: Call, operation: MediaOperation) -> None:
        failure = await self.files.problem(operation.sources)
        if operation not in call.media or call.state != "connected":
            return  # cancelled, lost or the call ended while ACS was downloading
        if failure is not None:
            self._fail(call, operation, failure)
        else:
            self._run(call, operation)

    # Running ----------------------------------------------------------------------------------------

    def _run(self, call: Call, operation: MediaOperation) -> None:
        prompt_ms = call.scenario.play_ms if operation.sources else 0.0
        targeted = operation.target is not None or bool(operation.play_to)
        if call.behaviour.hold_during_prompt and prompt_ms > 0 and targeted:
            operation.held = self.emulator.roster.set_hold(call, operation.targets(), True)
        if operation.kind == "play":
            self._emit(call, operation, "PlayStarted")
            if not operation.loop:
                self._after(call, operation, prompt_ms, lambda: self._finish_play(call, operation))
            return
        self._run_recognize(call, operation, prompt_ms)

    def _run_recognize(self, call: Call, operation: MediaOperation, prompt_ms: float) -> None:
        participant = call.participants.get(operation.target or "")
        # the call's own identity (a number or the application) hears the prompt and never answers
        script = participant.script if participant else ParticipantScript(operation.target or "")
        outcome = recognize_outcome(
            script,
            participant.next_answer() if participant else None,
            silence_timeout_s=operation.silence_timeout_s,
            max_tones=operation.max_tones,
            stop_tones=operation.stop_tones,
        )
        if isinstance(outcome, Pressed) and not operation.interrupt_prompt:
            at_ms = prompt_ms + outcome.delay_ms  # keys pressed during the prompt are not heard
        elif isinstance(outcome, Pressed | HangsUp):
            at_ms = outcome.delay_ms
        else:
            at_ms = prompt_ms + outcome.delay_ms  # the silence timer starts once the prompt has played
        if operation.held and prompt_ms < at_ms:
            self.emulator.schedule(
                call, prompt_ms, lambda: self._release_hold(call, operation), key=operation.op_id + ":hold"
            )
        self._after(call, operation, at_ms, lambda: self._finish_recognize(call, operation, outcome))

    def _after(
        self, call: Call, operation: MediaOperation, delay_ms: float, action: Callable[[], None]
    ) -> None:
        self.emulator.schedule(call, delay_ms, action, key=operation.op_id)

    def _finish_play(self, call: Call, operation: MediaOperation) -> None:
        self._emit(call, operation, "PlayCompleted")
        self._done(call, operation)

    def _finish_recognize(self, call: Call, operation: MediaOperation, outcome: Outcome) -> None:
        participant = call.participants.get(operation.target or "")
        if participant is None:  # one of the call's own identities: silence
            self._emit(call, operation, "RecognizeFailed", result=events.SILENCE_TIMEOUT)
            self._done(call, operation)
            return
        if participant.answers_used < len(participant.script.answers):
            participant.answers_used += 1
        if isinstance(outcome, HangsUp):
            self._done(call, operation)
            self.emulator.roster.leave(call, participant)
            return
        if isinstance(outcome, Pressed):
            participant.answered(outcome.tones, call.ms(time.monotonic()))
            result = events.STOP_TONE if outcome.stop_tone else events.MAX_DIGITS
            fields = events.recognize_completed_fields(outcome.tones)
            self._emit(call, operation, "RecognizeCompleted", fields, result)
        else:
            self._emit(call, operation, "RecognizeFailed", result=events.SILENCE_TIMEOUT)
        self._done(call, operation)

    # Leaving the queue ------------------------------------------------------------------------------

    def _done(self, call: Call, operation: MediaOperation) -> None:
        """``operation`` is over: out of the queue, hold released, and the next one starts."""
        self._drop(call, operation)
        self._release_hold(call, operation)
        self._start_head(call)

    def _drop(self, call: Call, operation: MediaOperation) -> None:
        self.emulator.cancel_timer(call, operation.op_id)
        self.emulator.cancel_timer(call, operation.op_id + ":hold")
        if operation in call.media:
            call.media.remove(operation)

    def _release_hold(self, call: Call, operation: MediaOperation) -> None:
        held, operation.held = operation.held, ()
        if held and call.state == "connected":
            self.emulator.roster.set_hold(call, held, False)

    def _fail(self, call: Call, operation: MediaOperation, failure: play_sources.SourceFailure) -> None:
        fields = events.failed_source_fields(failure.index)
        self._emit(call, operation, FAILED[operation.kind], fields, failure.result)
        self._done(call, operation)

    def _end(
        self,
        call: Call,
        operation: MediaOperation,
        names: dict[str, str],
        result: dict[str, Any],
    ) -> None:
        self._drop(call, operation)
        self._release_hold(call, operation)
        self._emit(call, operation, names[operation.kind], result=result)

    def cancel_all(self, call: Call) -> None:
        """The application cancels every running and queued operation: each reports *Canceled (8508)."""
        for operation in list(call.media):
            self._end(call, operation, CANCELED, events.CANCELED)

    def cancel_running(self, call: Call) -> int:
        """ACS cancels what is running (another application barged in, say); the queue moves on."""
        running = [op for op in call.media if op.started]
        for operation in running:
            self._end(call, operation, CANCELED, events.CANCELED)
        self._start_head(call)
        return len(running)

    def participant_left(self, call: Call, raw_id: str) -> None:
        """Operations aimed at someone who left fail (8558), or vanish with the knob off."""
        for operation in [op for op in call.media if op.targets() == (raw_id,)]:
            if call.behaviour.recognize_fails_when_target_leaves:
                self._end(call, operation, FAILED, events.TARGET_LEFT)
            else:
                self._drop(call, operation)
        self._start_head(call)

    def lose_all(self, call: Call) -> int:
        """A media restart: everything queued or running is gone without a word; holds and continuous
        DTMF recognition with it."""
        lost = len(call.media)
        for operation in list(call.media):
            self._drop(call, operation)
        for participant in call.participants.values():
            participant.on_hold = False
            participant.continuous_armed = False
        return lost

    def _emit(
        self,
        call: Call,
        operation: MediaOperation,
        name: str,
        fields: dict[str, Any] | None = None,
        result: dict[str, Any] = events.ACTION_OK,
    ) -> None:
        self.emulator.emit(
            call,
            name,
            fields,
            result=result,
            operation_context=operation.operation_context,
            url=operation.callback_url,
        )

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.files.aclose()
