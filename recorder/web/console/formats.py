"""Times as people read them, in the officer's time zone: the console runs no script (its CSP allows none), so
the officer picks the zone once (``?tz=Europe/London``, kept in a cookie); UTC until then."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from starlette.requests import Request

from recorder.services.queries.ledger import BadQuery, in_stored_range

ZONE_COOKIE = "recorder_tz"
# ACS names DTMF tones; people read keys
KEYS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6"}
KEYS |= {"seven": "7", "eight": "8", "nine": "9", "pound": "#", "asterisk": "*"}


ZONES = sorted(available_timezones())
_ZONE_SET = frozenset(ZONES)


def chosen_zone(request: Request) -> str | None:
    """The zone the officer asked for in this request when it is one, else None."""
    name = request.query_params.get("tz", "").strip()
    return name if _zone(name) is not None else None


def check_zone(request: Request) -> None:
    if request.query_params.get("tz", "").strip() and chosen_zone(request) is None:
        raise BadQuery("tz must be a time zone name such as Europe/London")


def zone_of(request: Request) -> tzinfo:
    """The zone asked for now, else the one kept in the cookie, else UTC."""
    name = request.query_params.get("tz", "").strip() or request.cookies.get(ZONE_COOKIE, "")
    return _zone(name) or UTC


def _zone(name: str) -> tzinfo | None:
    if not name or len(name) > 64 or name not in _ZONE_SET:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", "UTC")


def when(value: datetime | str | None, zone: tzinfo, seconds_only: bool = False) -> str:
    """``2026-12-07 23:40:52.123`` in ``zone``; blank for nothing."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    text = moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S.%f")
    return text[:-7] if seconds_only else text[:-3]


def duration(start: datetime | str | None, end: datetime | str | None) -> str:
    if not start or not end:
        return ""
    first = datetime.fromisoformat(start) if isinstance(start, str) else start
    last = datetime.fromisoformat(end) if isinstance(end, str) else end
    seconds = (last - first).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def day_start(text: str | None, zone: tzinfo, name: str, *, next_day: bool = False) -> datetime | None:
    """A date picker's day (``YYYY-MM-DD``) starting in ``zone``, in UTC; ``next_day``: an inclusive end."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text) if text.isascii() and len(text) == 10 else None
        if day is None:
            raise ValueError(text)
        start = datetime.combine(day, time(), zone)
        return in_stored_range(start + timedelta(days=1) if next_day else start, name)
    except (ValueError, OverflowError):
        raise BadQuery(f"{name} must be a date (YYYY-MM-DD)") from None
