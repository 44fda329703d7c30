"""Commands to and from the outbox's JSON payloads."""

from __future__ import annotations

import dataclasses
from typing import Any

from recorder.domain import effects as fx
from recorder.domain.model import Prompt

COMMAND_TYPES: dict[str, type[fx.Command]] = {
    cls.__name__: cls
    for cls in (
        fx.AnswerCall,
        fx.ConnectCall,
        fx.CreateCall,
        fx.PromptParticipant,
        fx.WatchForWithdrawal,
        fx.StartRecording,
        fx.PauseRecording,
        fx.ResumeRecording,
        fx.StopRecording,
        fx.HangUp,
        fx.ReadCallState,
    )
}


def encode(command: fx.Command) -> tuple[str, dict[str, Any]]:
    return type(command).__name__, dataclasses.asdict(command)


def decode(kind: str, payload: dict[str, Any]) -> fx.Command:
    cls = COMMAND_TYPES[kind]
    fields = dict(payload)
    if "prompt" in fields:
        fields["prompt"] = Prompt(**fields["prompt"])
    return cls(**fields)


def prompt_to_json(prompt: Prompt | None) -> dict[str, Any] | None:
    return None if prompt is None else dataclasses.asdict(prompt)


def prompt_from_json(data: dict[str, Any] | None) -> Prompt | None:
    return None if data is None else Prompt(**data)
