"""The one reading of an Azure SDK error: what kind of failure it is, whether trying again may help, and the
HTTP status. Every adapter that turns SDK errors into its port's error (Call Automation, identities, recording
downloads, Blob storage) classifies them here; only the wording of its messages is its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class Kind(StrEnum):
    EXISTS = "exists"
    NOT_FOUND = "not_found"
    UNAUTHORIZED = "unauthorized"
    ANSWERED = "answered"  # any other HTTP answer: transient by its status
    UNREACHABLE = "unreachable"  # no answer at all: the request or the response was lost
    OTHER = "other"


@dataclass(frozen=True)
class AzureFailure:
    kind: Kind
    transient: bool
    status: int | None
    code: str  # the service's error code, else the exception's type name
    name: str  # the exception's type name


def read_azure_error(exc: AzureError) -> AzureFailure:
    name = type(exc).__name__
    code = str(getattr(exc, "error_code", None) or name)
    if isinstance(exc, ResourceExistsError):
        return AzureFailure(Kind.EXISTS, False, 409, code, name)
    if isinstance(exc, ResourceNotFoundError):
        return AzureFailure(Kind.NOT_FOUND, False, 404, code, name)
    if isinstance(exc, ClientAuthenticationError):
        return AzureFailure(Kind.UNAUTHORIZED, False, 401, code, name)
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        return AzureFailure(Kind.ANSWERED, status in TRANSIENT_STATUS, status, code, name)
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return AzureFailure(Kind.UNREACHABLE, True, None, code, name)
    return AzureFailure(Kind.OTHER, True, None, code, name)
