"""Prometheus metrics: the metric objects, one-line helpers for the code that counts, and the exposition.

Several uvicorn workers: ``recorder serve --workers N`` (N > 1) points ``PROMETHEUS_MULTIPROC_DIR`` at a
fresh directory before the workers start, and a scrape sums every worker's counters and histograms
(prometheus-client's multiprocess mode). The outbox gauges are computed from the shared database on each
scrape, so any worker (and any instance) reports the same depth and age.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from recorder.observability.metrics_dir import MULTIPROC_ENV

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Event types that may become a label (without their Microsoft.Communication. / Microsoft.EventGrid. prefix):
# the Event Grid events the service subscribes to and the Call Automation callbacks ACS defines (the SDK's
# event models, azure-communication-callautomation 1.6.0). Anything else is counted as "other", so a sender
# cannot grow the number of series by inventing types.
KNOWN_EVENT_TYPES = frozenset(
    {
        "IncomingCall",
        "RecordingFileStatusUpdated",
        "SubscriptionValidationEvent",
        "unparsed",
        "AddParticipantFailed",
        "AddParticipantSucceeded",
        "AnswerFailed",
        "CallConnected",
        "CallDisconnected",
        "CallTransferAccepted",
        "CallTransferFailed",
        "CancelAddParticipantFailed",
        "CancelAddParticipantSucceeded",
        "ConnectFailed",
        "ContinuousDtmfRecognitionStopped",
        "ContinuousDtmfRecognitionToneFailed",
        "ContinuousDtmfRecognitionToneReceived",
        "CreateCallFailed",
        "HoldFailed",
        "MediaStreamingFailed",
        "MediaStreamingStarted",
        "MediaStreamingStopped",
        "MoveParticipantFailed",
        "MoveParticipantSucceeded",
        "ParticipantsUpdated",
        "PlayCanceled",
        "PlayCompleted",
        "PlayFailed",
        "PlayStarted",
        "RecognizeCanceled",
        "RecognizeCompleted",
        "RecognizeFailed",
        "RecordingStateChanged",
        "RemoveParticipantFailed",
        "RemoveParticipantSucceeded",
        "SendDtmfTonesCompleted",
        "SendDtmfTonesFailed",
        "StartRecordingFailed",
        "TranscriptionFailed",
        "TranscriptionStarted",
        "TranscriptionStopped",
        "TranscriptionUpdated",
    }
)

# Latency buckets in seconds, 5 ms to 30 s: each histogram takes the stretch of the one ladder it needs.
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

EVENTS = Counter(
    "recorder_events_received_total",
    "Webhook events received, by source (eventgrid, acs), type and outcome "
    "(applied, duplicate, unknown_call, ignored, rejected).",
    ["source", "type", "outcome"],
)
EVENT_SECONDS = Histogram(
    "recorder_event_processing_seconds",
    "Time to apply one event in its unit of work (dedupe, decide, persist).",
    ["source"],
    buckets=SECONDS[:-1],
)
WEBHOOK_SECONDS = Histogram(
    "recorder_webhook_request_seconds",
    "Time to answer one webhook delivery, by channel (eventgrid, acs).",
    ["channel"],
    buckets=SECONDS,
)
AUTH_FAILURES = Counter(
    "recorder_webhook_auth_failures_total",
    "Webhook deliveries refused with 401, by channel (eventgrid: wrong secret; acs: bad callback JWT).",
    ["channel"],
)
CONSENTS = Counter(
    "recorder_consent_outcomes_total",
    "Consent ledger rows written, by outcome (granted, declined, no_response, withdrawn, exempt).",
    ["outcome"],
)
RECORDINGS = Counter(
    "recorder_recording_segments_total",
    "Recording state changes confirmed by ACS, by kind (started, paused, resumed, stopped).",
    ["kind"],
)
INCIDENTS = Counter(
    "recorder_consent_incidents_total",
    "What the consent gate found ACS doing and acted on, by kind (PauseRecording_failed, "
    "recording_reported_active, participants_unclear, participants_read, answer_overdue, ...).",
    ["kind"],
)
COMMANDS = Counter(
    "recorder_outbox_commands_total",
    "Outbox commands run against ACS, by command and result (done, retry, failed).",
    ["command", "result"],
)
COMMAND_SECONDS = Histogram(
    "recorder_outbox_command_seconds",
    "Time ACS took to answer one outbox command, by command.",
    ["command"],
    buckets=SECONDS[1:],
)
RECONCILE_PERIOD = Gauge(
    "recorder_reconcile_period_seconds",
    "How often the reconciliation loop compares each live call with ACS ([calls] reconcile_seconds).",
    multiprocess_mode="max",
)
RECONCILE_LAG = Gauge(
    "recorder_reconcile_lag_seconds",
    "Time between the ends of the last two reconciliation passes: how old ACS's truth can get for a call.",
    multiprocess_mode="max",
)
RECONCILE_PASS_SECONDS = Histogram(
    "recorder_reconcile_pass_seconds",
    "Time one reconciliation pass took over every live call.",
    buckets=SECONDS[1:],
)
RECONCILE_CORRECTIONS = Counter(
    "recorder_reconcile_corrections_total",
    "What the reconciliation loop fed into calls, by kind (state_read, answer_overdue; read_failed: ACS "
    "could not be read).",
    ["kind"],
)
RECORDINGS_STORED = Counter(
    "recorder_recordings_stored_total", "Recording chunks verified in their region's storage and registered."
)
BYTES_TRANSFERRED = Counter(
    "recorder_recording_bytes_transferred_total", "Recording bytes copied from ACS to blob storage."
)


def event_type(name: str) -> str:
    """A bounded label for an event type: a known name without its prefix, else ``other``."""
    short = name.removeprefix("Microsoft.Communication.").removeprefix("Microsoft.EventGrid.")
    return short if short in KNOWN_EVENT_TYPES else "other"


def event_received(source: str, type_name: str, outcome: str) -> None:
    EVENTS.labels(source, event_type(type_name), outcome).inc()


def recording_stored(size: int, *, copied: bool) -> None:
    """A chunk verified in its region's storage; its bytes count as transferred only when we copied them."""
    RECORDINGS_STORED.inc()
    if copied:
        BYTES_TRANSFERRED.inc(size)


class OutboxCollector(Collector):
    """Outbox depth and the age of its oldest pending command, read from the database at scrape time."""

    def __init__(self, stats: Callable[[], tuple[int, float]]) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Metric]:
        try:
            depth, oldest = self._stats()
        except Exception:  # a scrape must still answer (and say so) while the database is down
            yield GaugeMetricFamily("recorder_database_up", "1 when the database answered this scrape.", 0)
            return
        yield GaugeMetricFamily("recorder_database_up", "1 when the database answered this scrape.", 1)
        yield GaugeMetricFamily("recorder_outbox_depth", "Outbox commands not yet done or failed.", depth)
        yield GaugeMetricFamily(
            "recorder_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox command (0 when none is pending).",
            oldest,
        )


def exposition(stats: Callable[[], tuple[int, float]]) -> bytes:
    """The text exposition: this process's (or every worker's) metrics, then the database gauges."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        own = generate_latest(registry)
    else:
        own = generate_latest(REGISTRY)
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(OutboxCollector(stats))
    return own + generate_latest(scraped)
