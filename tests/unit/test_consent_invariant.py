"""Property: whatever arrives, in whatever order, recording is never commanded on while anyone present
lacks granted or exempt consent."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.consent import decide, new_inbound_call
from recorder.domain.model import ALLOWS_RECORDING, CallState, RecordingStatus
from tests.unit.test_consent import POLICY, at

PEOPLE = ("4:+1555000001", "4:+1555000002", "4:+1555000003", "8:acs:agent")


def events() -> st.SearchStrategy[ev.CallEvent]:
    who = st.sampled_from(PEOPLE)
    attempt = st.integers(1, 4)
    return st.one_of(
        st.builds(lambda: ev.CallConnected(at(0), "conn")),
        st.builds(
            lambda seq, present: ev.ParticipantsUpdated(at(0), seq, tuple(present)),
            st.integers(1, 12),
            st.lists(who, unique=True, max_size=4),
        ),
        st.builds(
            lambda p, n, tone: ev.RecognizeCompleted(at(1), fx.consent_context(p, n), (tone,)),
            who,
            attempt,
            st.sampled_from(["one", "two", "five"]),
        ),
        st.builds(
            lambda p, n, code: ev.RecognizeFailed(at(1), fx.consent_context(p, n), code),
            who,
            attempt,
            st.sampled_from([8510, 8532, 8511]),
        ),
        st.builds(lambda p: ev.ContinuousToneReceived(at(2), f"withdraw|{p}", "nine"), who),
        st.builds(lambda a: ev.RecordingStateChanged(at(2), "rec", a), st.booleans()),
        st.builds(lambda: ev.RecordingStarted(at(2), "rec")),
        st.builds(lambda: ev.CallDisconnected(at(3))),
    )


def commanded_on_is_safe(state: CallState) -> bool:
    if state.recording is not RecordingStatus.ACTIVE:
        return True
    return all(p.consent in ALLOWS_RECORDING for p in state.present) and bool(state.present)


@settings(max_examples=int(os.environ.get("RECORDER_MODEL_EXAMPLES", "2000")), deadline=None)
@given(st.lists(events(), max_size=40))
def test_recording_is_never_commanded_on_without_everyones_consent(sequence: list[ev.CallEvent]) -> None:
    state = new_inbound_call("call", "server", "ctx", "en-US").state
    decisions_per_person: dict[str, int] = {}
    for event in sequence:
        decision = decide(state, event, POLICY)
        starts = [c for c in decision.commands if isinstance(c, fx.StartRecording | fx.ResumeRecording)]
        if starts:
            assert decision.state.consent_complete
        assert commanded_on_is_safe(decision.state)
        for record in decision.records:
            if isinstance(record, fx.ConsentRecorded) and record.outcome in ("granted", "declined"):
                decisions_per_person[record.participant] = decisions_per_person.get(record.participant, 0) + 1
        state = decision.state
    assert all(n == 1 for n in decisions_per_person.values())
