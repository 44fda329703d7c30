"""Every refusal as HTTP, in one place: the services' by kind, the web's own (authentication, bodies)
by status.

Handlers raise; ``api.ledger.route`` and the console turn what they catch into an answer here, so a refusal
is never a 500 and its status is decided nowhere else.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from recorder.services.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError, UpstreamFailed

STATUS_OF_KIND: dict[type[ServiceError], int] = {
    Invalid: 400,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    UpstreamFailed: 502,
}


class ApiError(ServiceError):
    """A refusal of the web layer itself, which knows its status: 401, 413, 503 ``auth_unavailable``..."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status = status


def status_of(exc: ServiceError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    return next((status for kind, status in STATUS_OF_KIND.items() if isinstance(exc, kind)), 400)


def error_response(exc: ServiceError) -> JSONResponse:
    body = {"error": {"code": exc.code, "message": str(exc), **exc.details}}
    return JSONResponse(body, status_code=status_of(exc))
