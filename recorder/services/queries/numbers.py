"""What people type for a participant, read as the ACS raw id the service stores.

ACS names a phone participant ``4:`` + its E.164 number (``4:+442071234567``) and everyone else by an id that
is not a number (``8:acs:…``, ``8:orgid:…``, ``28:…``). Those raw ids are stored as ACS sends them, and
``canonical`` leaves them unchanged; anything else a person types is read into that form: E.164 with or
without ``+``, with spaces, dashes, dots or brackets, a national number of the configured default region, a
``+`` lost to an unencoded query string (it arrives as a space). What cannot be a number is ``BadQuery``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from recorder.services.queries.ledger import BadQuery

REGION_ENV = "RECORDER_DEFAULT_REGION"
MAX_LENGTH = 256
# other ACS ids, and the pseudonym an erasure leaves (``erased:<hex>``)
_OTHER_ID = re.compile(r"(?:8|28):[A-Za-z0-9][A-Za-z0-9:._\-]*|erased:[0-9a-f]{16,64}")
# the start of an id (8:acs:1b5c…), or a piece of the hex and dashes that follow
_ID_PART = re.compile(r"(?:(?:8|28|erased):[A-Za-z0-9:._\-]{0,250}|[0-9a-fA-F_\-]{4,250})")
_PHONE_CHARS = re.compile(r"[0-9 +()\-./]+")
_DIGITS = re.compile(r"[^0-9]")


@dataclass(frozen=True)
class ParticipantQuery:
    """A search: ``exact`` when the text is a whole number or id, ``fragment`` to match inside ids (None: the
    exact id only, as the API searches)."""

    exact: str | None
    fragment: str | None


def canonical(text: str, region: str | None = None) -> str:
    """The raw id ``text`` names, or ``BadQuery`` when it cannot be a participant."""
    found = _canonical(text, region)
    if found is None:
        raise BadQuery("participant must be an ACS raw id (4:+…, 8:acs:…) or a phone number")
    return found


def partial(text: str, region: str | None = None) -> ParticipantQuery:
    """A console search term: a whole number or id when it reads as one, and the fragment to look for."""
    stripped = text.strip()
    if len(stripped) > MAX_LENGTH:
        raise BadQuery(f"participant must be at most {MAX_LENGTH} characters")
    exact = _canonical(text, region)
    if _PHONE_CHARS.fullmatch(stripped.removeprefix("4:") or "x"):
        digits = _DIGITS.sub("", stripped)
        if len(digits) < 3:
            raise BadQuery("type at least three digits of a number")
        return ParticipantQuery(exact, digits)
    if exact is None and not _ID_PART.fullmatch(stripped):
        raise BadQuery("participant must be a phone number, a few of its digits, or part of an ACS raw id")
    return ParticipantQuery(exact, stripped)


def _canonical(text: str, region: str | None) -> str | None:
    if len(text) > MAX_LENGTH:
        return None
    stripped = text.strip()
    if _OTHER_ID.fullmatch(stripped):
        return stripped
    number = stripped.removeprefix("4:")
    # a "+" sent unencoded arrives as a space: "4: 44…" and " 44…" were "+44…"; an ACS id always has the "+"
    international = number.startswith("+") or stripped.startswith("4:") or text[:1] == " "
    if not _PHONE_CHARS.fullmatch(number or "x"):
        return None
    digits = _DIGITS.sub("", number)
    attempts: list[tuple[str, str | None]] = [("+" + digits, None)]
    if not international and region is not None:
        attempts.insert(0, (number, region))
    for candidate, candidate_region in attempts:
        e164 = _e164(candidate, candidate_region)
        if e164 is not None:
            return "4:" + e164
    return None


def _e164(text: str, region: str | None) -> str | None:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check_region(region: str | None, name: str = REGION_ENV) -> str | None:
    """A region code phonenumbers knows (``GB``, ``US``), upper-cased; ``ValueError`` naming the setting."""
    if region is None or not region.strip():
        return None
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{name}: {region!r} is not a region code such as GB or US")
    return code
