"""Request bodies of the API and the console, read only once the caller is authenticated: bounded in size,
JSON parsed with a depth limit (deeply nested JSON is a 400, never a RecursionError), forms decoded once.
Every failure is an ``ApiError`` with a 4xx status and a code."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request

from recorder.web.errors import ApiError
from recorder.web.responses import BodyTooLarge, read_body
from recorder.web.webhooks.parsing import BadEvent, load_json


async def raw(request: Request, limit: int) -> bytes:
    try:
        return await read_body(request, limit)
    except BodyTooLarge:
        raise ApiError(413, "body_too_large", f"the body must be at most {limit} bytes") from None


async def json_object(request: Request, limit: int, *, allow_empty: bool = True) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}`` when ``allow_empty``."""
    data = await raw(request, limit)
    if not data.strip() and allow_empty:
        return {}
    try:
        value = load_json(data)
    except BadEvent as exc:
        raise ApiError(400, exc.code, str(exc)) from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    return value


async def form(request: Request, limit: int) -> dict[str, str]:
    data = await raw(request, limit)
    return {k: v[0] for k, v in parse_qs(data.decode(errors="replace")).items()}
