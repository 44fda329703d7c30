"""The one exception API handlers raise for a refusal: an HTTP status, a machine-readable code, a message."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code
