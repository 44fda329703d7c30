"""The metric helpers: bounded event-type labels, stored recordings and bytes, the exposition's gauges."""

from __future__ import annotations

from prometheus_client import REGISTRY

from recorder.observability import metrics


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_event_types_lose_the_acs_prefix_and_odd_names_become_other() -> None:
    assert metrics.event_type("Microsoft.Communication.RecognizeCompleted") == "RecognizeCompleted"
    assert metrics.event_type("IncomingCall") == "IncomingCall"
    assert metrics.event_type("Contoso.Custom.Event") == "other"
    assert metrics.event_type("x" * 100) == "other"


def test_a_stored_chunk_counts_once_and_its_bytes_only_when_copied() -> None:
    stored, moved = (
        value("recorder_recordings_stored_total"),
        value("recorder_recording_bytes_transferred_total"),
    )
    metrics.recording_stored(1000, copied=True)
    metrics.recording_stored(500, copied=False)  # bring-your-own-storage: ACS wrote it, nothing transferred
    assert value("recorder_recordings_stored_total") == stored + 2
    assert value("recorder_recording_bytes_transferred_total") == moved + 1000


def test_the_exposition_has_the_database_gauges_and_survives_a_database_outage() -> None:
    text = metrics.exposition(lambda: (3, 12.5)).decode()
    assert "recorder_outbox_depth 3.0" in text
    assert "recorder_outbox_oldest_pending_age_seconds 12.5" in text
    assert "recorder_database_up 1.0" in text

    def down() -> tuple[int, float]:
        raise ConnectionError("database unreachable")

    text = metrics.exposition(down).decode()
    assert "recorder_database_up 0.0" in text and "recorder_outbox_depth" not in text
    assert "recorder_events_received_total" in text or "recorder_events_received" in text
