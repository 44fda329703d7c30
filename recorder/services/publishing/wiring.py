"""Wires recording requests and event publishing into the call service: observers, publisher, wake-ups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from recorder.config.settings import Settings
from recorder.db.unit_of_work import UnitOfWork
from recorder.services.calls.consent_flow import CallService
from recorder.services.calls.recording_requests import RecordingRequests
from recorder.services.ports import EventPublisher
from recorder.services.publishing.event_log import EventLog
from recorder.services.publishing.publisher import Publisher


@dataclass
class RecordingServices:
    requests: RecordingRequests
    events: EventLog
    publisher: Publisher | None

    def start(self) -> None:
        if self.publisher is not None:
            self.publisher.start()

    def stop(self) -> None:
        if self.publisher is not None:
            self.publisher.stop()


def build_recordings(
    settings: Settings,
    uow: Callable[[], UnitOfWork],
    calls: CallService,
    commands_queued: Callable[[], None],
    clock: Callable[[], datetime],
    topic: EventPublisher | None = None,
) -> RecordingServices:
    if topic is None and settings.events_topic_endpoint:
        from recorder.adapters.event_publisher import build_event_publisher

        topic = build_event_publisher(settings.events_topic_endpoint, settings.events_topic_key)
    publisher = Publisher(uow, topic, clock) if topic is not None else None
    events = EventLog(publishing=publisher is not None)
    if publisher is not None:
        events.events_written = publisher.wake
    requests = RecordingRequests(uow, calls, clock, commands_queued)
    calls.observers += [events, requests]
    return RecordingServices(requests, events, publisher)
