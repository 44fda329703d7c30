"""What the API's writes take and answer: recording requests and outbound calls, ACS tokens, legal holds,
erasure, API keys, call grants and agent exemptions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from recorder.services.calls import agents
from recorder.services.tokens import user_tokens
from recorder.web.api.models.base import Body, Moment, Reply, Role
from recorder.web.errors import ApiError

REGION = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
E164 = re.compile(r"^\+[1-9][0-9]{5,14}$")
RAW_ID = re.compile(r"^(4:\+[1-9][0-9]{5,14}|8:[a-z]+:[A-Za-z0-9_:.\-]{1,200})$")


def _matching(pattern: re.Pattern[str], description: str) -> Any:
    """A field the service checks against ``pattern`` (its own validator), documented with that pattern."""
    return Field(description=description, json_schema_extra={"pattern": f"^(?:{pattern.pattern})$"})


@dataclass(frozen=True)
class Text:
    """Annotated metadata: a non-blank string of at most ``max_length`` characters (matching ``pattern``),
    refused in today's words; ``strip`` hands the handler the value without surrounding blanks."""

    name: str
    max_length: int
    pattern: re.Pattern[str] | None = None
    strip: bool = False

    def check(self, value: object) -> object:
        if not isinstance(value, str) or not value.strip() or len(value) > self.max_length:
            raise ValueError(
                f"{self.name} must be a non-empty string of at most {self.max_length} characters"
            )
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise ValueError(f"{self.name} is not in the expected format")
        return value.strip() if self.strip else value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(minLength=1, maxLength=self.max_length)
        json_schema["pattern"] = self.pattern.pattern if self.pattern is not None else r"\S"
        return json_schema


class _Fields(Body):
    """The recording-request bodies: unknown fields are refused, a bad field is ``invalid_field``."""

    model_config = ConfigDict(strict=True, extra="forbid")
    code: ClassVar[str] = "invalid_field"
    region: Annotated[str, Text("region", 64, REGION)] | None = Field(
        None, description="where the recording is stored"
    )
    external_reference: Annotated[str, Text("external_reference", 256)] | None = Field(
        None, description="the caller's own reference, echoed back"
    )


def _both(kind: str) -> dict[str, Any]:
    ids = ("server_call_id", "call_connection_id")
    return {
        "properties": {name: {"type": kind} for name in ids},
        "required": list(ids) if kind != "null" else [],
    }


class CreateRecording(_Fields):
    """Exactly one of ``server_call_id`` (a call the service does not handle yet: it connects to it) and
    ``call_connection_id`` (a call it already handles)."""

    # "not both, not neither" rather than oneOf: client generators keep one model with every field
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"not": {"anyOf": [_both("string"), _both("null")]}},
    )

    server_call_id: Annotated[str, Text("server_call_id", 1024)] | None = None
    call_connection_id: Annotated[str, Text("call_connection_id", 128)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CreateRecording:
        if (self.server_call_id is None) == (self.call_connection_id is None):
            raise ApiError(400, "invalid_body", "give exactly one of server_call_id or call_connection_id")
        return self


class PlaceCall(_Fields):
    """An outbound call that goes through the consent flow. A phone target (``4:…``) needs
    ``source_caller_id``, unless the service has RECORDER_OUTBOUND_CALLER_ID configured."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "if": {"properties": {"target": {"pattern": "^4:"}}, "required": ["target"]},
            "then": {
                "required": ["source_caller_id"],
                "properties": {"source_caller_id": {"type": "string"}},
            },
        },
    )

    target: Annotated[str, Text("target", 256, RAW_ID)] = Field(
        description="an ACS raw id such as 4:+14255550123"
    )
    source_caller_id: Annotated[str, Text("source_caller_id", 16, E164)] | None = Field(
        None, description="E.164; needed for a phone target unless RECORDER_OUTBOUND_CALLER_ID is set"
    )
    field_codes: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _target_given(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("target") is None:
            raise ApiError(400, "invalid_body", "target (an ACS raw id such as 4:+14255550123) is required")
        return data


RequestState = Literal[
    "connecting", "awaiting_consent", "recording", "paused", "declined", "stopped", "stored", "failed"
]


class RecordingRequest(Reply):
    id: str
    kind: str = Field(description="connect, existing or outbound")
    state: RequestState
    failure_reason: str | None
    server_call_id: str | None
    call_connection_id: str | None
    target: str | None
    region: str | None
    external_reference: str | None
    created_at: Moment
    updated_at: Moment
    stopped_at: Moment | None


class IssueToken(Body):
    user_id: Annotated[str, AfterValidator(user_tokens.check_user_id)] = _matching(
        user_tokens.USER_ID_PATTERN,
        "the application's own user id: 1 to 128 letters, digits or . _ @ + = : -",
    )
    field_codes: ClassVar[dict[str, str]] = {"user_id": "invalid_user_id"}


class AccessToken(Reply):
    token: str
    expires_on: Moment
    identity: str = Field(description="the ACS identity of this user id, the same on every call")


class RevokeTokens(Body):
    identity: Annotated[str, AfterValidator(user_tokens.check_identity)] = _matching(
        user_tokens.IDENTITY_PATTERN, "an ACS raw id 8:acs:…"
    )
    field_codes: ClassVar[dict[str, str]] = {"identity": "invalid_identity"}


class TokensRevoked(Reply):
    identity: str
    revoked: Literal[True]


class PlaceHold(Body):
    reason: Annotated[str, Text("reason", 512, strip=True)]


class ReleaseHold(Body):
    reason: Annotated[str, Text("reason", 512, strip=True)] = "released"


class Erase(Body):
    participant: Annotated[str, Text("participant", 256, strip=True)] = Field(description="an ACS raw id")
    force: bool = Field(False, description="erase even when nothing is held about them (admin only)")


class Erased(Reply):
    subject_sha256: str
    pseudonym: str
    erasure_seq: int
    ledger_rows: int
    audit_entries: int
    calls: int
    forced: bool


def _whole(value: object) -> object:
    """JSON has one kind of number: 7.0 is the whole number 7 (as JSON Schema says), 7.5 is not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class CreateKey(Body):
    role: Role
    name: Annotated[str, Text("name", 128, strip=True)]
    expires_in_days: Annotated[int, Field(ge=1, le=3650), BeforeValidator(_whole)] | None = None


class NewKey(Reply):
    id: str
    key: str = Field(description="the key itself: in this response only")
    role: Role
    name: str


class KeyInfo(Reply):
    id: str
    name: str
    role: Role
    prefix: str
    state: Literal["active", "revoked", "expired"]
    created_at: Moment
    expires_at: Moment | None
    revoked_at: Moment | None


class KeyList(Reply):
    items: list[KeyInfo]


class KeyRevoked(Reply):
    id: str
    state: Literal["revoked"]


class Grant(Body):
    key_id: str = Field(min_length=1, max_length=160, description="the id of a service API key")


class Granted(Reply):
    call_connection_id: str
    key_id: str
    granted_by: str
    granted_at: Moment


class GrantRevoked(Reply):
    call_connection_id: str
    key_id: str
    revoked: Literal[True]


class Exempt(Body):
    identity: Annotated[str, AfterValidator(agents.check_identity)] = _matching(
        agents.IDENTITY, "an ACS raw id"
    )
    reason: Annotated[str, AfterValidator(agents.check_reason)] | None = Field(
        None,
        description="printable ASCII; default agent-identity",
        json_schema_extra={"pattern": r"^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$", "maxLength": 128},
    )
    field_codes: ClassVar[dict[str, str]] = {"identity": "invalid_identity", "reason": "invalid_reason"}


class Exemption(Reply):
    identity: str
    reason: str
    registered_by: str
    registered_at: Moment


class ExemptionList(Reply):
    items: list[Exemption]


class ExemptionRemoved(Reply):
    identity: str
    removed: Literal[True]
