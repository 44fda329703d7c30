"""ACS REST media operations: play, DTMF recognize, continuous DTMF and cancelling them.

Requests are checked here and handed to the call's media queue (``media_queue.py``), which runs them.
"""

from __future__ import annotations

import uuid
from typing import Any

from recorder.emulator import play_sources
from recorder.emulator.connections import callback_uri, connected_call
from recorder.emulator.engine import Emulator
from recorder.emulator.rest import AcsError, AcsRequest, Reply, bad_request
from recorder.emulator.scenario import TONE_WORDS
from recorder.emulator.state import Call, MediaOperation, Participant

PLAY_SOURCE_KINDS = ("file", "text", "ssml")
DEFAULT_SILENCE_TIMEOUT_S = 5
MAX_SILENCE_TIMEOUT_S = 300


def invalid_media_mode(raw_id: str) -> AcsError:
    return AcsError(400, "8500", f"Invalid media mode: {raw_id} is already in a media operation.")


class MediaOperations:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def _check_target(self, call: Call, raw_id: str) -> None:
        """Someone present, or one of the call's own identities (ACS lists them; a prompt to one is heard
        by nobody)."""
        if raw_id not in call.self_identities():
            self.emulator.present_participant(call, raw_id)

    def _sources(self, call: Call, items: object, *, required: bool) -> tuple[Any, ...]:
        if items is None and not required:
            return ()
        if not isinstance(items, list) or not items:
            raise bad_request("playSources must be a non-empty list.")
        for source in items:
            if not isinstance(source, dict) or source.get("kind") not in PLAY_SOURCE_KINDS:
                raise bad_request(f"Each play source needs a kind among {', '.join(PLAY_SOURCE_KINDS)}.")
        sources = tuple(items)
        if call.behaviour.validate_play_sources:
            play_sources.check_text_allowed(sources, call.cognitive_services_endpoint)
        return sources

    def play_media(self, request: AcsRequest) -> Reply:
        call = connected_call(self.emulator, request)
        sources = self._sources(call, request.body.get("playSources"), required=True)
        targets = tuple(request.identifiers("playTo"))
        for raw_id in targets:
            self._check_target(call, raw_id)
        if call.behaviour.validate_play_sources:
            play_sources.check_targets(targets)
        if len(targets) == 1:
            request.record.target = targets[0]
        operation = MediaOperation(
            *_new_operation(request, "play"),
            sources=sources,
            play_to=targets,
            loop=request.section("playOptions").get("loop") is True,
        )
        interrupt = request.body.get("interruptCallMediaOperation") is True and not targets
        self.emulator.media.enqueue(call, operation, interrupt=interrupt)
        return Reply(202)

    def start_recognizing_media(self, request: AcsRequest) -> Reply:
        call = connected_call(self.emulator, request)
        if request.required_text("recognizeInputType") != "dtmf":
            raise bad_request("The emulator recognizes only dtmf input.")
        options = request.section("recognizeOptions")
        raw_id = request.identifier("targetParticipant", source=options)
        request.record.target = raw_id
        self._check_target(call, raw_id)
        if any(op.kind == "recognize" and op.target == raw_id for op in call.media):
            raise invalid_media_mode(raw_id)
        prompts = request.body.get("playPrompts")
        if prompts is None and request.body.get("playPrompt") is not None:
            prompts = [request.body.get("playPrompt")]
        sources = self._sources(call, prompts, required=False)
        if sources and call.behaviour.validate_play_sources:
            play_sources.check_targets((raw_id,))
        operation = MediaOperation(
            *_new_operation(request, "recognize"),
            sources=sources,
            target=raw_id,
            interrupt_prompt=options.get("interruptPrompt") is True,
            **_dtmf_settings(request, options),
        )
        interrupt = request.body.get("interruptCallMediaOperation") is True
        self.emulator.media.enqueue(call, operation, interrupt=interrupt)
        return Reply(202)

    def _continuous_target(self, request: AcsRequest) -> tuple[Call, Participant]:
        call = connected_call(self.emulator, request)
        raw_id = request.identifier("targetParticipant")
        request.record.target = raw_id
        return call, self.emulator.present_participant(call, raw_id)

    def start_continuous_dtmf_recognition(self, request: AcsRequest) -> Reply:
        _, participant = self._continuous_target(request)
        participant.continuous_armed = True
        participant.continuous_context = request.text("operationContext")
        return Reply(200)

    def stop_continuous_dtmf_recognition(self, request: AcsRequest) -> Reply:
        call, participant = self._continuous_target(request)
        participant.continuous_armed = False
        self.emulator.emit(
            call,
            "ContinuousDtmfRecognitionStopped",
            operation_context=request.text("operationContext"),
            url=callback_uri(request, "operationCallbackUri"),
        )
        return Reply(200)

    def cancel_all_media_operations(self, request: AcsRequest) -> Reply:
        self.emulator.media.cancel_all(connected_call(self.emulator, request))
        return Reply(202)


def _new_operation(request: AcsRequest, kind: str) -> tuple[str, str, str | None, str | None]:
    """A new media operation's id and kind, and where it reports: the request's context and callback."""
    context = request.text("operationContext")
    return uuid.uuid4().hex, kind, context, callback_uri(request, "operationCallbackUri")


def _dtmf_settings(request: AcsRequest, options: dict[str, Any]) -> dict[str, Any]:
    timeout = options.get("initialSilenceTimeoutInSeconds", DEFAULT_SILENCE_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise bad_request("initialSilenceTimeoutInSeconds must be a number.")
    if not 0 <= timeout <= MAX_SILENCE_TIMEOUT_S:
        raise bad_request(f"initialSilenceTimeoutInSeconds must be between 0 and {MAX_SILENCE_TIMEOUT_S}.")
    dtmf = request.section("dtmfOptions", source=options)
    max_tones = dtmf.get("maxTonesToCollect") or 1
    stop_tones = dtmf.get("stopTones") or []
    if isinstance(max_tones, bool) or not isinstance(max_tones, int) or max_tones < 1:
        raise bad_request("maxTonesToCollect must be a positive integer.")
    if not isinstance(stop_tones, list) or not all(tone in TONE_WORDS.values() for tone in stop_tones):
        raise bad_request("stopTones must be a list of DTMF tone names.")
    return {"silence_timeout_s": float(timeout), "max_tones": max_tones, "stop_tones": frozenset(stop_tones)}
