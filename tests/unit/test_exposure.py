"""Unconsented exposure from ACS's times, and participant numbers read the way people type them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recorder.config.settings import ConfigError, load_settings
from recorder.services.queries import exposure as ex
from recorder.services.queries.ledger import BadQuery
from recorder.services.queries.numbers import canonical, partial

T0 = datetime.now(UTC)


def ms(n: float) -> datetime:
    return T0 + timedelta(milliseconds=n)


def test_a_late_joiner_is_exposed_from_joining_until_acs_reports_the_pause() -> None:
    presence = {"a": [(ms(0), True)], "b": [(ms(5000), True)]}
    decisions = {"a": [(ms(2000), "granted")], "b": [(ms(7000), "granted")]}
    segments = [(ms(2100), "started"), (ms(5065.4), "paused"), (ms(7050), "resumed"), (ms(9000), "stopped")]
    found = ex.compute(presence, decisions, segments, ms(10000))
    assert found.ms_of("a") == 0
    assert found.ms_of("b") == pytest.approx(65.4)
    assert [(s.start, s.end) for s in found.spans] == [(ms(5000), ms(5065.4))]
    assert found.as_json()["total_ms"] == 65 and found.as_json()["participants"] == {"a": 0, "b": 65}


def test_withdrawal_decline_leaving_and_exemption() -> None:
    presence = {
        "w": [(ms(0), True)],  # grants, then withdraws at 4000; the pause comes at 4030
        "d": [(ms(0), True), (ms(3000), False)],  # declines, leaves before any recording
        "x": [(ms(0), True)],  # exempt
    }
    decisions = {"w": [(ms(100), "granted"), (ms(4000), "withdrawn")], "d": [(ms(200), "declined")]}
    decisions["x"] = [(ms(0), "exempt")]
    segments = [(ms(3500), "started"), (ms(4030), "paused")]
    found = ex.compute(presence, decisions, segments, ms(6000))
    assert found.ms_of("w") == pytest.approx(30)
    assert found.ms_of("d") == 0 and found.ms_of("x") == 0


def test_recording_still_on_at_the_end_is_counted_to_the_end_and_overlaps_are_not_double_counted() -> None:
    presence = {"a": [(ms(0), True)], "b": [(ms(0), True)]}
    found = ex.compute(presence, {}, [(ms(1000), "started")], ms(1500))
    assert found.ms_of("a") == found.ms_of("b") == pytest.approx(500)
    assert found.total_ms == pytest.approx(500)


def test_spans_are_read_in_time_order_whatever_order_they_arrive() -> None:
    assert ex.spans([(ms(10), False), (ms(0), True)], ms(20)) == [ex.Span(ms(0), ms(10))]
    assert ex.subtract([ex.Span(ms(0), ms(10))], [ex.Span(ms(2), ms(4))]) == [
        ex.Span(ms(0), ms(2)),
        ex.Span(ms(4), ms(10)),
    ]


@pytest.mark.parametrize(
    ("typed", "region", "raw_id"),
    [
        ("+442071234567", None, "4:+442071234567"),
        ("442071234567", None, "4:+442071234567"),
        ("+44 20 7123 4567", None, "4:+442071234567"),
        ("+44-20-7123-4567", None, "4:+442071234567"),
        ("4:+442071234567", None, "4:+442071234567"),
        ("4: 442071234567", None, "4:+442071234567"),  # ?participant=4:+44… unencoded: the + is a space
        (" 442071234567", None, "4:+442071234567"),
        ("020 7123 4567", "GB", "4:+442071234567"),
        ("(425) 555-0101", "US", "4:+14255550101"),
        ("1 425 555 0101", None, "4:+14255550101"),
        (
            "8:acs:1b5cc06b-f352-4571-b1e6-d9b259b7c776_0000001a",
            None,
            "8:acs:1b5cc06b-f352-4571-b1e6-d9b259b7c776_0000001a",
        ),
        ("erased:0123456789abcdef", None, "erased:0123456789abcdef"),
    ],
)
def test_what_people_type_reads_as_the_raw_id_acs_sends(typed: str, region: str | None, raw_id: str) -> None:
    assert canonical(typed, region) == raw_id
    assert canonical(raw_id, region) == raw_id  # the stored form reads as itself: one normalisation


@pytest.mark.parametrize("typed", ["bob", "12", "4:abc", "", "   ", "+1", "x" * 300, "8:acs:a b"])
def test_what_cannot_be_a_participant_is_a_bad_query(typed: str) -> None:
    with pytest.raises(BadQuery):
        canonical(typed, "GB")


def test_a_console_search_matches_a_fragment_of_a_number() -> None:
    assert partial("7123 4567").fragment == "71234567"
    assert partial("+44 20 7123 4567").exact == "4:+442071234567"
    assert partial("8:acs:1b5c").fragment == "8:acs:1b5c"
    assert partial("d9b259b7").fragment == "d9b259b7"
    for typed in ("12", "bob", "8:acs:a b"):
        with pytest.raises(BadQuery):
            partial(typed)


def test_the_default_region_must_be_one_phonenumbers_knows(tmp_path: Path) -> None:
    assert load_settings({"RECORDER_DEFAULT_REGION": "gb"}, for_serving=False).default_region == "GB"
    assert load_settings({"RECORDER_DEFAULT_REGION": ""}, for_serving=False).default_region is None
    config = tmp_path / "recorder.toml"
    config.write_text('[console]\ndefault_region = "US"\n')
    assert load_settings({"RECORDER_CONFIG": str(config)}, for_serving=False).default_region == "US"
    with pytest.raises(ConfigError) as bad:
        load_settings({"RECORDER_DEFAULT_REGION": "XX"}, for_serving=False)
    assert bad.value.problems == ["RECORDER_DEFAULT_REGION: 'XX' is not a region code such as GB or US"]
