"""Metric labels stay bounded: an event type is a label only if it is one ACS or Event Grid defines; any other
well-formed type, however many arrive, is counted under ``other``."""

from __future__ import annotations

from prometheus_client import REGISTRY

from tests.security.world import World, now_iso


def event_series() -> set[tuple[tuple[str, str], ...]]:
    return {
        tuple(sorted(sample.labels.items()))
        for metric in REGISTRY.collect()
        if metric.name == "recorder_events_received"
        for sample in metric.samples
        if sample.name.endswith("_total")
    }


def made_up(i: int, schema: str) -> dict[str, object]:
    kind = f"Microsoft.Communication.MadeUpType{i}"
    data = {"callConnectionId": "conn-x", "serverCallId": "s"}
    if schema == "cloudevents":
        return {"id": f"ce-{i}", "type": kind, "specversion": "1.0", "time": now_iso(), "data": data}
    return {"id": f"eg-{i}", "eventType": kind, "subject": "", "eventTime": now_iso(), "data": data}


def test_a_hundred_made_up_types_add_at_most_one_series_per_channel(world: World) -> None:
    before = event_series()
    assert world.eventgrid([made_up(i, "eventgrid") for i in range(100)]).status_code == 200
    assert world.callback("some-call", [made_up(i, "cloudevents") for i in range(100)]).status_code == 200
    added = event_series() - before
    assert {dict(labels)["type"] for labels in added} <= {"other"}, sorted(added)


def test_known_types_keep_their_own_label(world: World) -> None:
    known = {**made_up(0, "cloudevents"), "type": "Microsoft.Communication.PlayCompleted", "id": "known-1"}
    world.callback("some-call", [known])
    types = {dict(labels)["type"] for labels in event_series()}
    assert "PlayCompleted" in types
