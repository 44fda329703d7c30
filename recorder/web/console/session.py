"""The console's sign-in, sessions and the guard every page goes through.

Sign-in takes an API key once and opens a server-side session (``services/tokens/console_sessions.py``):
the cookie holds a random token, never the key, so it is useless as a bearer token; it is HttpOnly,
SameSite=Strict, scoped to /console and Secure unless the console is reached on a loopback host. Sessions end
after 30 idle minutes, after 8 hours, on sign-out (revoked server-side) and when the key is revoked. Every
form that changes something carries a CSRF token: before sign-in a random value also set as a cookie (double
submit); after, a hash derived from the session's token, which another site cannot know.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from recorder.bootstrap import Container
from recorder.services.errors import ServiceError
from recorder.services.tokens import console_sessions
from recorder.services.tokens.api_keys import Principal
from recorder.web.api import bodies
from recorder.web.api.ledger import READERS
from recorder.web.console import formats
from recorder.web.errors import ApiError, status_of

SESSION_COOKIE = "recorder_console"
LOGIN_CSRF_COOKIE = "recorder_console_csrf"
LOOPBACK_HOSTS = frozenset({"localhost", "::1", "[::1]"})
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))
csrf_for = console_sessions.csrf_token


def _loopback(request: Request) -> bool:
    host = request.url.hostname or ""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        secure=request.url.scheme == "https" or not _loopback(request),
        samesite="strict",
    )


def _signed_in(container: Container, request: Request) -> tuple[Principal, str] | None:
    """The principal of the request's live session and the session's token, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    principal = container.console_sessions.resume(token)
    return (principal, token) if principal is not None else None


def _open_session(container: Container, principal: Principal) -> str:
    return container.console_sessions.open(principal.key_id)


def _end_session(container: Container, token: str) -> None:
    container.console_sessions.end(token)


async def _form(request: Request) -> dict[str, str]:
    """The posted form; a body over 16 KiB reads as an empty form (which no CSRF check passes)."""
    try:
        return await bodies.form(request, 16 * 1024)
    except ApiError:
        return {}


def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, f"console/{name}", context, status_code=status)


def audit(container: Container, principal: Principal, request: Request, action: str) -> None:
    details = {"role": principal.role, "path": request.url.path, "query": str(request.url.query)}
    container.access_log.record(f"key:{principal.key_id}", action, details)


def render(
    request: Request, name: str, principal: Principal, token: str, status: int = 200, **context: Any
) -> Response:
    """A signed-in page: the template gets the principal and the session's CSRF token (to sign out); a time
    zone the officer chose (``?tz=``) is kept for the next pages."""
    chosen = formats.chosen_zone(request)
    response = page(request, name, status, principal=principal, csrf=csrf_for(token), **context)
    if chosen is not None:
        _cookie(response, request, formats.ZONE_COOKIE, chosen, 365 * 24 * 3600)
    return response


def not_found(request: Request, principal: Principal, token: str) -> Response:
    return render(request, "base.html", principal, token, 404, message="No such call.")


def audited(
    container: Container, principal: Principal, request: Request, action: str, work: Callable[[Any], Any]
) -> Any:
    """The page's read, after its audit entry is committed."""
    details = {"role": principal.role, "path": request.url.path, "query": str(request.url.query)}
    return container.access_log.recorded_read(f"key:{principal.key_id}", action, details, work)


async def login_form(request: Request) -> Response:
    token = secrets.token_urlsafe(32)
    response = page(request, "login.html", csrf=token, principal=None)
    _cookie(response, request, LOGIN_CSRF_COOKIE, token, 600)
    return response


async def login(request: Request) -> Response:
    container: Container = request.app.state.container
    form = await _form(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    token = secrets.token_urlsafe(32)
    if not expected or not hmac.compare_digest(expected, form.get("csrf", "")):
        response = page(request, "login.html", 403, csrf=token, message="The form expired; sign in again.")
        _cookie(response, request, LOGIN_CSRF_COOKIE, token, 600)
        return response
    key = form.get("key", "").strip()
    principal = container.keys.authenticate(key) if key else None
    if principal is None or principal.role not in READERS:
        message = "That key is not valid." if principal is None else "That key's role cannot use the console."
        response = page(request, "login.html", 401 if principal is None else 403, csrf=token, message=message)
        _cookie(response, request, LOGIN_CSRF_COOKIE, token, 600)
        return response
    await run_in_threadpool(audit, container, principal, request, "console.signed_in")
    session_token = await run_in_threadpool(_open_session, container, principal)
    response = RedirectResponse("/console/ledger", status_code=303)
    lifetime = int(console_sessions.LIFETIME.total_seconds())
    _cookie(response, request, SESSION_COOKIE, session_token, lifetime)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


async def logout(request: Request) -> Response:
    container: Container = request.app.state.container
    signed_in = await run_in_threadpool(_signed_in, container, request)
    if signed_in is None:  # nobody to sign out: the body is never read
        return RedirectResponse("/console/login", status_code=303)
    form = await _form(request)
    if not hmac.compare_digest(csrf_for(signed_in[1]), form.get("csrf", "")):
        return RedirectResponse("/console/login", status_code=303)
    await run_in_threadpool(_end_session, container, signed_in[1])
    await run_in_threadpool(audit, container, signed_in[0], request, "console.signed_out")
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


def guarded(work: Callable[[Request, Container, Principal, str], Response]) -> Callable[[Request], Any]:
    """Signed in with a reader's key, or off to the sign-in page; a bad filter is a 400 page, not a 500."""

    async def endpoint(request: Request) -> Response:
        container: Container = request.app.state.container
        signed_in = await run_in_threadpool(_signed_in, container, request)
        if signed_in is None:
            return RedirectResponse("/console/login", status_code=303)
        principal, token = signed_in
        if principal.role not in READERS:
            return page(request, "base.html", 403, message="Your role cannot use the console.")
        try:
            return await run_in_threadpool(work, request, container, principal, token)
        except ServiceError as exc:
            return render(request, "base.html", principal, token, status_of(exc), message=str(exc))

    return endpoint
