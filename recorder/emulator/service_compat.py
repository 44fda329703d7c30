"""The one place where the e2e test stack and ``recorder demo`` run the emulator more leniently than ACS.

The emulator's defaults are the strictest plausible ACS (see its fidelity table). Where the service does not
yet cope with what ACS really does, the stack and the demo set the knob below instead -- each entry names the
fix that removes it. Delete an entry when that fix lands; nothing else may loosen the emulator for our tests.
"""

from __future__ import annotations

from typing import Any

from recorder.emulator.behaviour import Behaviour, parse_behaviour

# knob -> (lenient value, what in the service must change before the strict default can come back)
LENIENT: dict[str, tuple[Any, str]] = {
    "self_listed": ("none", "issue 13 item 1: the service knows its own identities and never prompts them"),
    "media_queue": ("parallel", "issue 13: prompts serialised by ACS's media queue (silence timers, time)"),
    "callback_retries": (5, "issue 13 item 7: a lost callback is read back by the reconciliation loop"),
    "incoming_call_for_resource_identities": (
        False,
        "issue 13 item 8: answer only calls to the configured numbers; ignore agents' legs",
    ),
    "repeatability": ("all", "issue 13: one prompt per person after a crash without ACS de-duplicating it"),
    "repeatability_match_first_sent": (
        False,
        "adapters/acs.py: send the outbox command's first attempt time as Repeatability-First-Sent",
    ),
    "recording_content_default": (
        "audio",
        "adapters/acs.py: start_recording asks for audio, mixed, wav (ACS's default is audio+video mp4)",
    ),
    "recording_format_default": ("wav", "adapters/acs.py: start_recording asks for the wav format"),
}


def lenient_behaviour(base: Behaviour | None = None) -> Behaviour:
    return parse_behaviour({knob: value for knob, (value, _) in LENIENT.items()}, base)


def lenient_cli_args() -> tuple[str, ...]:
    """``--behaviour knob=value`` arguments for ``recorder emulator``."""
    args: list[str] = []
    for knob, (value, _) in LENIENT.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["--behaviour", f"{knob}={text}"]
    return tuple(args)
