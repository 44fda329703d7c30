"""Verification of the HMAC-SHA256 signature the Call Automation SDK puts on every request.

The SDK signs ``VERB\\n<path>?<query>\\n<x-ms-date>;<host>;<x-ms-content-sha256>`` with the base64-decoded
access key, where the path is the percent-encoded one it sent. A server must therefore rebuild the string
from the raw request target (ASGI ``raw_path`` and ``query_string``), not from the decoded path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from starlette.requests import Request

SCHEME = "HMAC-SHA256"
REQUIRED_SIGNED_HEADERS = ("x-ms-date", "host", "x-ms-content-sha256")
MAX_CLOCK_SKEW = timedelta(minutes=15)


class HmacError(Exception):
    """The request is not signed correctly; the message says why."""


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def string_to_sign(method: str, target: str, signed_values: list[str]) -> str:
    return f"{method.upper()}\n{target}\n{';'.join(signed_values)}"


def compute_signature(access_key: str, value: str) -> str:
    digest = hmac.new(base64.b64decode(access_key), value.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def request_target(raw_path: bytes, query_string: bytes) -> str:
    """The request target as the client wrote it: raw path plus ``?query`` when there is one."""
    target = raw_path.decode("latin-1")
    if query_string:
        target += "?" + query_string.decode("latin-1")
    return target


def parse_authorization(header: str) -> tuple[list[str], str]:
    """``HMAC-SHA256 SignedHeaders=a;b;c&Signature=xyz`` -> (["a", "b", "c"], "xyz")."""
    scheme, _, params = header.strip().partition(" ")
    if scheme != SCHEME:
        raise HmacError(f"the Authorization scheme must be {SCHEME}")
    values: dict[str, str] = {}
    for part in params.strip().split("&"):
        name, sep, value = part.partition("=")
        if sep:
            values[name.strip()] = value.strip()
    signed = values.get("SignedHeaders", "")
    signature = values.get("Signature", "")
    if not signed or not signature:
        raise HmacError("the Authorization header needs SignedHeaders and Signature")
    return [name.strip().lower() for name in signed.split(";")], signature


def verify_request(
    *,
    access_key: str,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
) -> None:
    """Raise ``HmacError`` unless the request carries a valid, fresh signature over its body."""
    authorization = headers.get("authorization")
    if not authorization:
        raise HmacError("the request has no Authorization header")
    signed_headers, signature = parse_authorization(authorization)
    missing = [name for name in REQUIRED_SIGNED_HEADERS if name not in signed_headers]
    if missing:
        raise HmacError(f"SignedHeaders must include {', '.join(missing)}")

    if not hmac.compare_digest(headers.get("x-ms-content-sha256", ""), content_hash(body)):
        raise HmacError("x-ms-content-sha256 does not match the body")
    _check_date(headers.get("x-ms-date", ""), now or datetime.now(UTC))

    signed_values = []
    for name in signed_headers:
        value = headers.get(name)
        if value is None:
            raise HmacError(f"the signed header {name} is missing")
        signed_values.append(value)
    expected = compute_signature(access_key, string_to_sign(method, target, signed_values))
    if not hmac.compare_digest(signature.encode("ascii", "replace"), expected.encode("ascii")):
        raise HmacError("the signature does not match")


def hmac_denial(access_key: str, request: Request, body: bytes) -> str | None:
    """Why an HTTP request's signature is refused (the message ACS gives), or None when it is valid."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    target = request_target(raw_path, request.scope.get("query_string", b""))
    try:
        verify_request(
            access_key=access_key, method=request.method, target=target, headers=request.headers, body=body
        )
    except HmacError as error:
        return f"Denied by HMAC authentication: {error}."
    return None


def _check_date(value: str, now: datetime) -> None:
    if not value:
        raise HmacError("the request has no x-ms-date header")
    try:
        sent = parsedate_to_datetime(value)
    except (TypeError, ValueError) as error:
        raise HmacError("x-ms-date is not an RFC 1123 date") from error
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    if abs(now - sent) > MAX_CLOCK_SKEW:
        raise HmacError("x-ms-date is more than 15 minutes away from the emulator's clock")
