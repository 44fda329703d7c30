"""The one check for every URL this service fetches or deletes with its ACS credential (recording content,
metadata, delete locations): the webhook parser, the download adapter and the emulator rewrite all call it.

A URL passes only when there is nothing for two parsers to disagree about: printable ASCII without
backslashes, ``https``, a host of ``[a-z0-9.-]`` labels under an ACS recording domain, no userinfo, no port
other than 443, no fragment, and a path and query of RFC 3986 characters. It is then parsed the way the
transport parses it (``urllib3.util.parse_url``) and the way Python does (``urlsplit``); both must see the
same host, port, path and query, and what is returned is the URL rebuilt from those parts, which is what
the SDK is given. (``urlsplit("https://evil.example\\.asm.skype.com/x").hostname`` ends in
``.asm.skype.com`` while urllib3 connects to ``evil.example``: that disagreement is the attack.)
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

# The hosts ACS serves recording files from (SDK 1.6.0 checks these too, with a flaw: check ourselves).
ALLOWED_RECORDING_HOST_SUFFIXES = (
    ".asm.skype.com",
    ".asyncgw.teams.microsoft.com",
    ".ams.gov.teams.microsoft.us",
)
MAX_URL_LENGTH = 4096
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# RFC 3986 pchar plus "/" and "?" (query), percent-escapes well formed: nothing urllib3 would re-encode
_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
_QUERY = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")


class BadRecordingUrl(ValueError):
    """Why a URL must not be fetched with our ACS credential (safe to log and to answer with)."""


def checked_recording_url(url: object) -> str:
    """The URL rebuilt from its parsed parts, or ``BadRecordingUrl`` saying what is wrong with it."""
    if not isinstance(url, str) or not url:
        raise BadRecordingUrl("must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise BadRecordingUrl("too long")
    if not url.isascii() or not url.isprintable() or any(c in url for c in " \\"):
        raise BadRecordingUrl("must be printable ASCII without spaces or backslashes")
    split = _split(url)
    host = _host(split.netloc)
    path, query = split.path or "/", split.query
    if split.fragment or "#" in url:
        raise BadRecordingUrl("must not carry a fragment")
    if not _PATH.fullmatch(path) or not _QUERY.fullmatch(query):
        raise BadRecordingUrl("path or query has characters that need encoding")
    rebuilt = f"https://{host}{path}" + (f"?{query}" if query else "")
    _same_for_urllib3(rebuilt, host, path, query)
    return rebuilt


def recording_url_problem(url: object) -> str | None:
    """None when ``url`` may be fetched with our ACS credential, otherwise why not."""
    try:
        checked_recording_url(url)
    except BadRecordingUrl as exc:
        return str(exc)
    return None


def _split(url: str) -> SplitResult:
    try:
        split = urlsplit(url)
    except ValueError as exc:  # "[x", a netloc that changes under NFKC, ...
        raise BadRecordingUrl(f"not a URL: {exc}") from None
    if split.scheme.lower() != "https":
        raise BadRecordingUrl("must be an https:// URL")
    return split


def _host(netloc: str) -> str:
    if "@" in netloc:
        raise BadRecordingUrl("must not carry credentials")
    host, colon, port = netloc.partition(":")
    if colon and port != "443":
        raise BadRecordingUrl("the port must be 443 (or none)")
    host = host.lower()
    labels = host.split(".")
    if not host or not all(_LABEL.fullmatch(label) for label in labels):
        raise BadRecordingUrl(f"host {host!r} is not a DNS name of [a-z0-9.-]")
    if not any(host.endswith(suffix) for suffix in ALLOWED_RECORDING_HOST_SUFFIXES):
        raise BadRecordingUrl(f"host {host!r} is not an ACS recording host")
    return host


def _same_for_urllib3(rebuilt: str, host: str, path: str, query: str) -> None:
    try:
        seen = parse_url(rebuilt)
    except LocationParseError as exc:
        raise BadRecordingUrl(f"the transport cannot parse it: {exc}") from None
    ours = urlsplit(rebuilt)
    if (seen.scheme, seen.host, seen.port, seen.path or "/", seen.query or "") != (
        "https",
        host,
        None,
        path,
        query,
    ) or (ours.hostname, ours.port, ours.path, ours.query) != (host, None, path, query):
        raise BadRecordingUrl("the transport would read it differently")
