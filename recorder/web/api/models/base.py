"""What every API model shares: how a request model turns a validation failure into today's 400 codes, the
response base (additional properties are never sent), and the error body."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from recorder.services.queries.ledger import BadQuery
from recorder.web.api.query_params import LedgerOutcome
from recorder.web.errors import ApiError

__all__ = ["Body", "Error", "LedgerOutcome", "Moment", "Query", "Reply", "Role"]

Role = Literal["admin", "operator", "auditor", "service"]
# Times the services render as ISO 8601 text: documented as date-time, sent byte for byte as rendered.
Moment = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


def explain(errors: list[ErrorDetails]) -> str:
    """One line per problem, in the words the validators used (``ValueError`` messages as they are)."""
    lines = []
    for error in errors:
        where = ".".join(str(part) for part in error["loc"]) or "the body"
        if error["type"] == "value_error":
            lines.append(str(error.get("ctx", {}).get("error", error["msg"])))
        elif error["type"] == "extra_forbidden":
            lines.append(f"unknown field: {where}")
        else:
            lines.append(f"{where}: {error['msg'].lower()}")
    return "; ".join(lines)


def _unknown(exc: ValidationError) -> str:
    """The names given that the model does not have, comma-separated ("" when none)."""
    return ", ".join(sorted(str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden"))


class Body(BaseModel):
    """A JSON request body. A problem is a 400 ``code`` (``field_codes`` per field; ``unknown_code`` for a
    field the model does not have, when it forbids them); a service refusal raised by a validator passes."""

    model_config = ConfigDict(strict=True, extra="ignore")
    code: ClassVar[str] = "invalid_body"
    unknown_code: ClassVar[str] = "unknown_field"
    field_codes: ClassVar[dict[str, str]] = {}

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Self:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            if unknown := _unknown(exc):
                raise ApiError(400, cls.unknown_code, f"unknown fields: {unknown}") from None
            first = exc.errors()[0]
            code = cls.field_codes.get(str(first["loc"][0]) if first["loc"] else "", cls.code)
            raise ApiError(400, code, explain(exc.errors())) from None


class Query(BaseModel):
    """Query-string parameters: unknown names and bad values are a 400 ``invalid_query``."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def parse(cls, params: dict[str, str]) -> Self:
        try:
            return cls.model_validate(params)
        except ValidationError as exc:
            if unknown := _unknown(exc):
                raise BadQuery(f"unknown parameters: {unknown}") from None
            raise BadQuery(explain(exc.errors())) from None


class Reply(BaseModel):
    """A response body: the document says no other properties; the route drops any the service adds."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # some refusals add details (e.g. the conflicting request id)
    code: str = Field(description="machine-readable and stable, e.g. invalid_query, forbidden, not_found")
    message: str = Field(description="safe to show")


class Error(BaseModel):
    """Every refusal: a 4xx or 5xx status and this body."""

    error: ErrorDetail
