"""Use cases for calls: one unit of work per event — de-duplicate, decide, persist, queue commands."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.consent import Decision, decide, new_inbound_call
from recorder.domain.model import CallState, ConsentPolicy
from recorder.observability import crashpoints, metrics
from recorder.services.calls.ports import AgentRegister, CallsUnitOfWork
from recorder.services.calls.records_written import write_records

log = logging.getLogger("recorder.calls")


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    UNKNOWN_CALL = "unknown_call"
    IGNORED = "ignored"  # an IncomingCall to a number or identity the service does not answer for


@dataclass(frozen=True)
class IncomingCall:
    event_id: str
    server_call_id: str
    incoming_call_context: str
    caller: str | None
    callee: str | None
    correlation_id: str | None


class Delivery(Protocol):
    """One authenticated ACS callback event, as the webhook parsed it."""

    @property
    def id(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def call_connection_id(self) -> str: ...

    @property
    def event(self) -> ev.CallEvent | None: ...  # None: a type the consent flow does not act on


@dataclass(frozen=True)
class Delivered:
    """What became of a callback delivery: counts per outcome, or why none of it was applied."""

    outcomes: dict[str, int] = field(default_factory=dict)
    foreign: tuple[str, ...] = ()  # event ids naming another call than the URL's: nothing applied
    refused: str | None = None  # the caller's admission check said no: nothing applied


class DecisionObserver(Protocol):
    """Writes what follows from a persisted decision (events, request rows), in the same transaction."""

    def decided(
        self, uow: CallsUnitOfWork, state: CallState, records: Sequence[fx.Record], now: datetime
    ) -> None: ...


class CallService:
    def __init__(
        self,
        unit_of_work: Callable[[], CallsUnitOfWork],
        policy: ConsentPolicy,
        clock: Callable[[], datetime],
        commands_queued: Callable[[], None] = lambda: None,
        observers: Sequence[DecisionObserver] = (),
        answer_for: frozenset[str] = frozenset(),
        command_lease: timedelta | None = None,
    ) -> None:
        """``command_lease``: claim a call's next command in the transaction that queued or finished the one
        before, for the caller to run at once (None: the dispatcher's loop claims every command)."""
        self._uow = unit_of_work
        self._command_lease = command_lease
        self._policy = policy
        self._answer_for = answer_for  # empty: every call except to an agent identity
        self._clock = clock
        self._commands_queued = commands_queued
        self._observers = tuple(observers)

    @property
    def policy(self) -> ConsentPolicy:
        return self._policy

    def start_call(
        self,
        uow: CallsUnitOfWork,
        decision: Decision,
        event_type: str,
        now: datetime,
        *,
        direction: str,
        callee: str | None = None,
        caller: str | None = None,
    ) -> None:
        """Add a call the service itself starts (connect, outbound) inside the caller's unit of work."""
        uow.calls.add(decision.state, now, direction=direction, caller=caller, callee=callee)
        self._persist(uow, decision, event_type, None, now)

    def apply_in(
        self, uow: CallsUnitOfWork, call_id: str, event: ev.CallEvent, now: datetime
    ) -> tuple[CallState, Decision] | None:
        """Apply an event that comes from our own API (not ACS) inside the caller's unit of work."""
        state = uow.calls.get(call_id, lock=True)
        if state is None:
            return None
        decision = decide(state, event, self._policy)
        self._persist(uow, decision, type(event).__name__, None, now)
        return state, decision

    def incoming_call(self, call: IncomingCall) -> tuple[Outcome, str | None]:
        now = self._clock()
        with self._uow() as uow:
            if not self._answers_for(uow, call.callee):
                log.info("call.ignored", extra={"server_call_id": call.server_call_id})
                return Outcome.IGNORED, None
            if not uow.inbox.add("eventgrid", call.event_id, "IncomingCall", None, now):
                return Outcome.DUPLICATE, None
            call_id = str(uuid.uuid4())
            decision = new_inbound_call(
                call_id,
                call.server_call_id,
                call.incoming_call_context,
                self._policy.default_locale,
                callee=call.callee,
            )
            uow.calls.add(
                decision.state,
                now,
                direction="inbound",
                caller=call.caller,
                callee=call.callee,
                correlation_id=call.correlation_id,
            )
            self._persist(uow, decision, "IncomingCall", call.event_id, now)
            uow.commit()
        log.info(  # the formatter masks the caller's number
            "call.incoming",
            extra={"call_id": call_id, "server_call_id": call.server_call_id, "caller": call.caller},
        )
        self._commands_queued()
        return Outcome.APPLIED, call_id

    def _answers_for(self, uow: CallsUnitOfWork, callee: str | None) -> bool:
        """ACS sends IncomingCall for every call, transfer and added participant to any identity of the
        resource: answer only the configured ones, and never a call to one of our own agents."""
        if self._answer_for:
            return callee in self._answer_for
        return callee is None or not uow.agents.is_agent(callee)

    def reconcile(self, call_id: str, event: ev.StateRead | ev.AnswerOverdue) -> bool:
        """Feed what the reconciliation loop found into the call; True when it changed something."""
        now = self._clock()
        with self._uow() as uow:
            state = uow.calls.get(call_id, lock=True)
            if state is None:
                return False
            policy = self._policy
            if isinstance(event, ev.StateRead) and event.participants:
                policy = exempting_known_agents(uow.agents, policy, event.participants)
            decision = decide(state, event, policy)
            changed = decision.state != state or bool(decision.commands or decision.records)
            if changed:
                self._persist(uow, decision, type(event).__name__, None, now, actor="reconciler")
                uow.commit()
        if decision.commands:
            self._commands_queued()
        return changed

    def id_for_connection(self, call_connection_id: str) -> str | None:
        with self._uow() as uow:
            return uow.calls.id_for_connection(call_connection_id)

    def apply_callbacks(
        self,
        call_id: str,
        deliveries: Sequence[Delivery],
        admit: Callable[[], str | None] = lambda: None,
        run_now: Callable[[str, str], None] | None = None,
    ) -> Delivered:
        """Apply one delivery of ACS callbacks to the call its URL names, one unit of work per event. The
        first one, holding the call's lock, binds the delivery: every event must name that call's connection
        (a call still being answered has none yet: its first callbacks may arrive before the answer), then
        ``admit`` (the web's replay check) may refuse it; either way nothing is applied. ``run_now`` (the
        dispatcher's) takes the command an event made its call's next, claimed with the decision: a pause
        reaches ACS without waiting for the dispatcher's loop to find it."""
        outcomes: dict[str, int] = {}
        for index, d in enumerate(deliveries):
            binding = deliveries if index == 0 else ()
            timed = metrics.EVENT_SECONDS.labels("acs").time() if d.event is not None else nullcontext()
            with timed:  # what the consent flow acts on, as before: not the types it ignores
                applied = self._apply_delivery(call_id, d, binding, admit, run_now)
            if isinstance(applied, Delivered):
                return applied
            outcomes[applied] = outcomes.get(applied, 0) + 1
            metrics.event_received("acs", d.type, applied)
        return Delivered(outcomes)

    def _apply_delivery(
        self,
        call_id: str,
        delivery: Delivery,
        binding: Sequence[Delivery],
        admit: Callable[[], str | None],
        run_now: Callable[[str, str], None] | None = None,
    ) -> str | Delivered:
        """One event in its unit of work; with ``binding``, first check the delivery they belong to."""
        if not binding and delivery.event is None:
            return "ignored"
        now = self._clock()
        with self._uow() as uow:
            state = uow.calls.get(call_id, lock=True)
            if binding:
                refusal = _refusal(state, binding, admit)
                if refusal is not None:
                    return refusal
            if delivery.event is None:
                return "ignored"
            claim = run_now is not None
            outcome, decision, claimed = self._apply_locked(uow, state, call_id, delivery, now, claim)
        if claimed is not None and run_now is not None:
            run_now(claimed, call_id)
        elif decision is not None and decision.commands:
            self._commands_queued()
        return outcome.value

    def apply(self, call_id: str, event_id: str, event_type: str, event: ev.CallEvent) -> Outcome:
        """Apply one authenticated ACS callback event to its call, exactly once."""
        outcome = self._apply_delivery(call_id, _Event(event_id, event_type, event), (), lambda: None)
        assert isinstance(outcome, str)
        return Outcome(outcome)

    def _apply_locked(
        self,
        uow: CallsUnitOfWork,
        state: CallState | None,
        call_id: str,
        d: Delivery,
        now: datetime,
        claim: bool,
    ) -> tuple[Outcome, Decision | None, str | None]:
        """Dedupe, decide and persist one event under its call's lock; with ``claim``, also claim the call's
        next command when the decision queued any."""
        assert d.event is not None
        if state is None:
            log.info("webhook.unknown_call", extra={"call_id": call_id, "event_type": d.type})
            return Outcome.UNKNOWN_CALL, None, None
        if not uow.inbox.add("acs", d.id, d.type, call_id, now):
            return Outcome.DUPLICATE, None, None
        policy = self._policy
        if isinstance(d.event, ev.ParticipantsUpdated):
            policy = exempting_known_agents(uow.agents, policy, d.event.participants)
        decision = decide(state, d.event, policy)
        self._persist(uow, decision, d.type, d.id, now, previous=state)
        claimed = self._claim_next(uow, call_id, now) if decision.commands and claim else None
        crashpoints.hit(f"event.before_commit.{d.type}")
        uow.commit()
        return Outcome.APPLIED, decision, claimed

    def _claim_next(self, uow: CallsUnitOfWork, call_id: str, now: datetime) -> str | None:
        if self._command_lease is None:
            return None
        return uow.outbox.claim_next(call_id, now, self._command_lease)

    def command_finished(
        self,
        call_id: str,
        command_id: str,
        status: str,
        result: ev.CallEvent | None,
        error: str | None = None,
    ) -> str | None:
        """Close an outbox command and feed what ACS answered back into the call, in one transaction; returns
        the call's next command when it claimed it for the dispatcher to run at once."""
        now = self._clock()
        with self._uow() as uow:
            state = uow.calls.get(call_id, lock=True)
            uow.outbox.finish(command_id, status, now, error)
            if state is not None and result is not None:
                decision = decide(state, result, self._policy)
                # a failure is always audited, even when it changes nothing in the call's state
                unchanged = None if status == "failed" else state
                self._persist(uow, decision, type(result).__name__, None, now, previous=unchanged)
            claimed = self._claim_next(uow, call_id, now)
            uow.commit()
        if claimed is None:
            self._commands_queued()
        return claimed

    def _persist(
        self,
        uow: CallsUnitOfWork,
        decision: Decision,
        event_type: str,
        event_id: str | None,
        now: datetime,
        previous: CallState | None = None,
        actor: str | None = None,
    ) -> None:
        state = decision.state
        if previous is not None and state == previous and not decision.records and not decision.commands:
            return
        uow.calls.save(state, now)
        written = write_records(uow, state, decision.records, event_id, now)
        commands = []
        for command in decision.commands:
            uow.outbox.add(state.call_id, command, now)
            commands.append(type(command).__name__)
        for observer in self._observers:
            observer.decided(uow, state, decision.records, now)
        uow.audit.defer(
            actor or ("acs" if event_id else "recorder"),
            f"call.{event_type}",
            state.call_id,
            {
                "event_id": event_id,
                "phase": state.phase,
                "recording": state.recording,
                "consents": written.consents,
                "segments": written.segments,
                "commands": commands,
                **({"incidents": written.incidents} if written.incidents else {}),
                **({"ended": written.ended} if written.ended else {}),
            },
            now,
        )


def exempting_known_agents(
    agents: AgentRegister, policy: ConsentPolicy, raw_ids: Iterable[str]
) -> ConsentPolicy:
    """``policy`` plus an exemption for each of ``raw_ids`` an admin registered as an agent
    (``services/calls/agents.py``). A reason the configuration already gives for an identity wins."""
    registered = agents.registered(raw_ids)
    missing = {identity: reason for identity, reason in registered.items() if identity not in policy.exempt}
    if not missing:
        return policy
    return replace(policy, exempt={**dict(sorted(missing.items())), **policy.exempt})


@dataclass(frozen=True)
class _Event:
    """A ``Delivery`` of one event the caller already bound to its call."""

    id: str
    type: str
    event: ev.CallEvent | None
    call_connection_id: str = ""


def _refusal(
    state: CallState | None, deliveries: Sequence[Delivery], admit: Callable[[], str | None]
) -> Delivered | None:
    """Why a delivery may not apply to the call its URL names: events naming another connection, or a
    replay; None when it may."""
    connection = None if state is None else state.call_connection_id
    foreign = [d.id for d in deliveries if connection is not None and d.call_connection_id != connection]
    if foreign:
        return Delivered(foreign=tuple(foreign))
    refused = admit()
    return None if refused is None else Delivered(refused=refused)
