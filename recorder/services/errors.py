"""What goes wrong, in two roots: ``ServiceError``, every refusal a caller can act on, by kind; and
``PortError``, an outside system (ACS, storage, the event topic, the anchor store) failing behind a port.

Services say *what* went wrong (invalid, forbidden, not found, conflict, ACS failed); the web maps each kind
to its HTTP status in one place (``web/errors.py``), the command line to its exit code. ``code`` is
machine-readable and stable; the message is safe to show; ``details`` go into the answer as they are.
"""

from __future__ import annotations

from typing import Any


class PortError(Exception):
    """An outside system failed behind one of the services' ports; services retry it or turn it into a
    ``ServiceError`` (``UpstreamFailed``). Each port has its own subclass, raised only by adapters."""


class ServiceError(Exception):
    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


class Invalid(ServiceError):
    """The request itself is wrong: asking again unchanged cannot succeed."""


class Forbidden(ServiceError):
    """The caller may not do this (to this call)."""


class NotFound(ServiceError):
    """Nothing of that name, or nothing the caller may see."""


class Conflict(ServiceError):
    """The request contradicts the current state (already on hold, call ended, key reused)."""


class UpstreamFailed(ServiceError):
    """ACS (or another service we depend on) could not do it; nothing was changed here."""
