"""When a prompt's answer is late enough to be taken as lost.

ACS runs a call's media operations one at a time: a queued prompt's silence timer starts only when it
reaches the front. So only the oldest unanswered prompt of a call is judged, from the later of when it was
sent and when the media queue last moved on (an outcome of one of our prompts arrived, or we gave up on one).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from recorder.domain import events as ev
from recorder.domain.model import CallPhase, CallState, Consent, ConsentPolicy


def overdue_answer(state: CallState, now: datetime, policy: ConsentPolicy) -> ev.AnswerOverdue | None:
    if state.phase is not CallPhase.CONNECTED:
        return None
    waiting = [p for p in state.present if p.consent is Consent.PROMPTED and p.prompted_at is not None]
    if not waiting:
        return None
    head = min(waiting, key=lambda p: p.prompted_at or now)  # the first of equals: prompts go out in order
    assert head.prompted_at is not None
    turn = max(head.prompted_at, state.media_turn_at or head.prompted_at)
    wait = timedelta(seconds=policy.silence_timeout_seconds + policy.answer_margin_seconds)
    if now < turn + wait:
        return None
    return ev.AnswerOverdue(now, head.raw_id, head.prompts_sent)
