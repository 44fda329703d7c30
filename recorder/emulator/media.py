"""ACS REST media operations: play, DTMF recognize, continuous DTMF and cancelling them."""

from __future__ import annotations

import time
import uuid

from recorder.emulator import events
from recorder.emulator.connections import callback_uri
from recorder.emulator.engine import Emulator
from recorder.emulator.rest import AcsRequest, Reply, bad_request
from recorder.emulator.scenario import TONE_WORDS, HangsUp, Outcome, Pressed, recognize_outcome
from recorder.emulator.state import Call, Participant, PendingOperation

PLAY_SOURCE_KINDS = ("file", "text", "ssml")
DEFAULT_SILENCE_TIMEOUT_S = 5
MAX_SILENCE_TIMEOUT_S = 300


class MediaOperations:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def _call(self, request: AcsRequest) -> Call:
        call = self.emulator.call_for_connection(request.params["call_connection_id"])
        request.record.server_call_id = call.server_call_id
        return call

    def play_media(self, request: AcsRequest) -> Reply:
        call = self._call(request)
        sources = request.body.get("playSources")
        if not isinstance(sources, list) or not sources:
            raise bad_request("playSources must be a non-empty list.")
        for source in sources:
            if not isinstance(source, dict) or source.get("kind") not in PLAY_SOURCE_KINDS:
                raise bad_request(f"Each play source needs a kind among {', '.join(PLAY_SOURCE_KINDS)}.")
        targets = request.identifiers("playTo")
        for raw_id in targets:
            self.emulator.present_participant(call, raw_id)
        if len(targets) == 1:
            request.record.target = targets[0]
        loop = request.section("playOptions").get("loop") is True
        operation = PendingOperation(
            uuid.uuid4().hex,
            "play",
            request.text("operationContext"),
            callback_uri(request, "operationCallbackUri"),
        )
        call.pending[operation.op_id] = operation
        self.emulator.emit(
            call, "PlayStarted", operation_context=operation.operation_context, url=operation.callback_url
        )
        if not loop:
            self.emulator.schedule(
                call, call.scenario.play_ms, lambda: self._finish_play(call, operation), key=operation.op_id
            )
        return Reply(202)

    def _finish_play(self, call: Call, operation: PendingOperation) -> None:
        call.pending.pop(operation.op_id, None)
        self.emulator.emit(
            call, "PlayCompleted", operation_context=operation.operation_context, url=operation.callback_url
        )

    def start_recognizing_media(self, request: AcsRequest) -> Reply:
        call = self._call(request)
        input_type = request.required_text("recognizeInputType")
        if input_type != "dtmf":
            raise bad_request("The emulator recognizes only dtmf input.")
        options = request.section("recognizeOptions")
        raw_id = request.identifier("targetParticipant", source=options)
        request.record.target = raw_id
        participant = self.emulator.present_participant(call, raw_id)
        if any(op.kind == "recognize" and op.target == raw_id for op in call.pending.values()):
            raise bad_request(f"A recognize operation for {raw_id} is already running.")
        timeout = options.get("initialSilenceTimeoutInSeconds", DEFAULT_SILENCE_TIMEOUT_S)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise bad_request("initialSilenceTimeoutInSeconds must be a number.")
        if not 0 <= timeout <= MAX_SILENCE_TIMEOUT_S:
            raise bad_request(
                f"initialSilenceTimeoutInSeconds must be between 0 and {MAX_SILENCE_TIMEOUT_S}."
            )
        dtmf = request.section("dtmfOptions", source=options)
        max_tones = dtmf.get("maxTonesToCollect") or 1
        stop_tones = dtmf.get("stopTones") or []
        if isinstance(max_tones, bool) or not isinstance(max_tones, int) or max_tones < 1:
            raise bad_request("maxTonesToCollect must be a positive integer.")
        if not isinstance(stop_tones, list) or not all(tone in TONE_WORDS.values() for tone in stop_tones):
            raise bad_request("stopTones must be a list of DTMF tone names.")

        outcome = recognize_outcome(
            participant.script,
            participant.next_answer(),
            silence_timeout_s=float(timeout),
            max_tones=max_tones,
            stop_tones=frozenset(stop_tones),
        )
        operation = PendingOperation(
            uuid.uuid4().hex,
            "recognize",
            request.text("operationContext"),
            callback_uri(request, "operationCallbackUri"),
            target=raw_id,
        )
        call.pending[operation.op_id] = operation
        self.emulator.schedule(
            call,
            outcome.delay_ms,
            lambda: self._finish_recognize(call, participant, operation, outcome),
            key=operation.op_id,
        )
        return Reply(202)

    def _finish_recognize(
        self, call: Call, participant: Participant, operation: PendingOperation, outcome: Outcome
    ) -> None:
        call.pending.pop(operation.op_id, None)
        if participant.answers_used < len(participant.script.answers):
            participant.answers_used += 1
        if isinstance(outcome, HangsUp):
            self.emulator.leave(call, participant)
            return
        context, url = operation.operation_context, operation.callback_url
        if isinstance(outcome, Pressed):
            participant.answered(outcome.tones, call.ms(time.monotonic()))
            fields = {"recognitionType": "dtmf", "dtmfResult": {"tones": list(outcome.tones)}}
            result = events.STOP_TONE if outcome.stop_tone else events.MAX_DIGITS
            self.emulator.emit(
                call, "RecognizeCompleted", fields, result=result, operation_context=context, url=url
            )
        else:
            self.emulator.emit(
                call, "RecognizeFailed", result=events.SILENCE_TIMEOUT, operation_context=context, url=url
            )

    def start_continuous_dtmf_recognition(self, request: AcsRequest) -> Reply:
        call = self._call(request)
        raw_id = request.identifier("targetParticipant")
        request.record.target = raw_id
        participant = self.emulator.present_participant(call, raw_id)
        participant.continuous_armed = True
        participant.continuous_context = request.text("operationContext")
        return Reply(200)

    def stop_continuous_dtmf_recognition(self, request: AcsRequest) -> Reply:
        call = self._call(request)
        raw_id = request.identifier("targetParticipant")
        request.record.target = raw_id
        participant = self.emulator.present_participant(call, raw_id)
        participant.continuous_armed = False
        self.emulator.emit(
            call,
            "ContinuousDtmfRecognitionStopped",
            operation_context=request.text("operationContext"),
            url=callback_uri(request, "operationCallbackUri"),
        )
        return Reply(200)

    def cancel_all_media_operations(self, request: AcsRequest) -> Reply:
        call = self._call(request)
        for operation in list(call.pending.values()):
            self.emulator.cancel_timer(call, operation.op_id)
            name = "RecognizeCanceled" if operation.kind == "recognize" else "PlayCanceled"
            self.emulator.emit(
                call,
                name,
                result=events.CANCELED,
                operation_context=operation.operation_context,
                url=operation.callback_url,
            )
        call.pending.clear()
        return Reply(202)
