"""Log lines: phone numbers masked wherever they appear, request and call ids from context, two formats."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from recorder.observability import logs


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.ContextFilter())
    logger = logging.getLogger("test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("4:+14255550123", "4:+1425555****"),
        ("+442071838750", "+44207183****"),
        ("call from +14255550123 to 4:+18005550100.", "call from +1425555**** to 4:+1800555****."),
        ("2026-11-28T12:00:01+00:00", "2026-11-28T12:00:01+00:00"),  # not a phone number
        ("8:acs:1234-5678", "8:acs:1234-5678"),
    ],
)
def test_phone_numbers_keep_country_and_area_but_lose_the_last_four_digits(raw: str, masked: str) -> None:
    assert logs.mask_phone_numbers(raw) == masked


def test_numbers_are_masked_in_the_message_in_extra_fields_and_in_exceptions(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    try:
        raise ValueError("participant 4:+14255550123 left")
    except ValueError:
        logger.exception(
            "saw 4:+14255550199", extra={"participant": "4:+14255550188", "ids": ["+14255550177"]}
        )
    text = stream.getvalue()
    for digits in ("14255550123", "14255550199", "14255550188", "14255550177"):
        assert digits not in text
    entry = lines(stream)[0]
    assert entry["event"] == "saw 4:+1425555****"
    assert entry["participant"] == "4:+1425555****"


def test_every_line_carries_the_request_id_and_the_call_ids_of_its_context(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    token = logs.request_id.set("req-42")
    try:
        with logs.call_context(callConnectionId="conn-1", serverCallId="srv-1", correlationId=None):
            logger.info("inside", extra={"call_id": "c1"})
            with logs.call_context(correlationId="corr-1"):
                logger.info("nested")
        logger.info("outside")
    finally:
        logs.request_id.reset(token)
    logger.info("no request")
    inside, nested, outside, bare = lines(stream)
    assert inside["request_id"] == "req-42" and inside["call_id"] == "c1"
    assert (inside["callConnectionId"], inside["serverCallId"]) == ("conn-1", "srv-1")
    assert "correlationId" not in inside
    assert nested["correlationId"] == "corr-1" and nested["callConnectionId"] == "conn-1"
    assert outside["request_id"] == "req-42" and "callConnectionId" not in outside
    assert "request_id" not in bare


def test_explicit_extra_fields_win_over_the_context(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    with logs.call_context(serverCallId="from-context"):
        logger.info("x", extra={"serverCallId": "explicit"})
    assert lines(stream)[0]["serverCallId"] == "explicit"


def test_ids_come_from_a_delivery_payload() -> None:
    payload = [{"data": {"callConnectionId": "c", "serverCallId": "s", "correlationId": "r", "other": "x"}}]
    assert logs.ids_from_payload(payload) == {
        "callConnectionId": "c",
        "serverCallId": "s",
        "correlationId": "r",
    }
    assert logs.ids_from_payload({"data": "nope"}) == {}
    assert logs.ids_from_payload([]) == {}


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_readable_lines_and_anything_else_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECORDER_LOG_FORMAT", raising=False)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        terminal, pipe = Tty(), io.StringIO()
        logs.configure(stream=terminal)
        logging.getLogger("recorder.x").info("consent.granted", extra={"participant": "4:+14255550123"})
        logs.configure(stream=pipe)
        logging.getLogger("recorder.x").info("consent.granted", extra={"participant": "4:+14255550123"})
        monkeypatch.setenv("RECORDER_LOG_FORMAT", "json")
        forced = Tty()
        logs.configure(stream=forced)
        logging.getLogger("recorder.x").info("consent.granted")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = terminal.getvalue()
    assert " INFO " in line and "consent.granted" in line and "participant=4:+1425555****" in line
    assert not line.startswith("{")
    assert json.loads(pipe.getvalue())["participant"] == "4:+1425555****"
    assert json.loads(forced.getvalue())["event"] == "consent.granted"
