"""The compliance reads: their query strings (the ledger, call search, export) and what they answer (ledger
pages, call summaries and timelines, evidence bundles, audit verification)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator
from pydantic.config import JsonDict

from recorder.domain.model import CallPhase, Consent, RecordingStatus
from recorder.web.api import query_params
from recorder.web.api.models.base import LedgerOutcome, Moment, Query, Reply


def _limit(value: object) -> object:
    if isinstance(value, str) and not query_params.DIGITS.fullmatch(value):
        raise ValueError(f"limit must be a whole number from 1 to {query_params.MAX_LIMIT}")
    return value


def _recorded(value: object) -> object:
    if value not in ("true", "false"):
        raise ValueError("recorded must be true or false")
    return value == "true"


Limit = Annotated[
    int, Field(ge=1, le=query_params.MAX_LIMIT, description="page size"), BeforeValidator(_limit)
]
Cursor = Annotated[
    str | None, Field(description="the `next` of the previous page: opaque, as this service issued it")
]
Participant = Annotated[
    str | None,
    Field(
        description="an ACS raw id such as 4:+14255550123, or a phone number as people type it (E.164 with "
        "or without +, with spaces or dashes; national numbers in [console] default_region); what cannot "
        "be a number or an ACS id is a 400 invalid_query"
    ),
]


# What every backend stores is 1900 to 9999 in UTC; the document promises the years that hold in any zone.
STORED_YEARS: JsonDict = {"pattern": r"^(190[1-9]|19[1-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9])-"}


class TimeRange(Query):
    since: datetime | None = Field(
        None, description="at or after (ISO 8601 with a zone)", json_schema_extra=STORED_YEARS
    )
    until: datetime | None = Field(
        None, description="before (ISO 8601 with a zone)", json_schema_extra=STORED_YEARS
    )

    @field_validator("since", "until", mode="before")
    @classmethod
    def _moment(cls, value: object, info: ValidationInfo) -> datetime | None:
        """Today's rule (query_params.moment): ASCII, a zone, inside what every backend stores."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"{info.field_name} must be an ISO 8601 time")
        return query_params.moment(value, str(info.field_name))


class LedgerQuery(TimeRange):
    call_connection_id: str | None = Field(None, description="one call's connection id")
    server_call_id: str | None = Field(None, description="one call's server call id")
    participant: Participant = None
    outcome: LedgerOutcome | None = Field(None, description="the ledger outcome")


class ConsentsQuery(LedgerQuery):
    cursor: Cursor = None
    limit: Limit = 100


class ExportQuery(LedgerQuery):
    format: Literal["csv", "jsonl"] = "csv"


class CallSearchQuery(TimeRange):
    participant: Participant = None
    outcome: LedgerOutcome | None = Field(None, description="an outcome any participant had")
    recorded: Annotated[bool | None, BeforeValidator(_recorded)] = Field(
        None, description="whether recording ever started on the call"
    )
    cursor: Cursor = None
    limit: Limit = 100


class ConsentRow(Reply):
    """One row of the consent ledger."""

    id: int
    call_connection_id: str | None
    server_call_id: str
    participant: str = Field(description="the ACS raw id (a pseudonym once erased)")
    outcome: LedgerOutcome
    method: str = Field(description="how it was decided, e.g. dtmf, exempt, silence")
    reason: str | None
    dtmf: str | None
    prompt_id: str | None
    prompt_version: str | None
    locale: str | None
    prompt_sha256: str | None
    prompted_at: Moment | None
    decided_at: Moment


class LedgerItem(ConsentRow):
    exposure_ms: int | None = Field(
        description="how long ACS recorded this call while this participant was present without consent, "
        "by ACS's own times; null for a call from before it was measured"
    )


class ConsentPage(Reply):
    items: list[LedgerItem]
    next: str | None = Field(description="the cursor of the next page; null on the last")


class CallSummary(Reply):
    call_connection_id: str | None
    server_call_id: str
    direction: str = Field(description="inbound, outbound or connect")
    phase: CallPhase
    recorded: bool
    participants: list[str]
    created_at: Moment
    ended_at: Moment | None


class CallPage(Reply):
    items: list[CallSummary]
    next: str | None = Field(description="the cursor of the next page; null on the last")


class CallParticipant(Reply):
    participant: str
    present: bool
    consent: Consent
    exempt_reason: str | None


class Segment(Reply):
    recording_id: str
    kind: Literal["started", "paused", "resumed", "stopped"]
    at: Moment


class StoredRecording(Reply):
    recording_id: str
    chunk_index: int
    state: Literal["stored", "deleted"]
    region: str
    container: str
    blob_url: str | None = Field(description="never with a SAS")
    sha256: str | None
    size: int | None
    stored_at: Moment | None
    deleted_at: Moment | None
    legal_hold: str | None = Field(description="the Blob legal hold's state, where one was applied")


class ExposureInterval(Reply):
    start: Moment
    end: Moment
    ms: float


class Exposure(Reply):
    """Recording while someone present had not consented, from ACS-reported participant and recording
    times; null for a call from before it was measured."""

    total_ms: int
    participants: dict[str, int] = Field(description="each participant's unconsented recorded ms")
    intervals: list[ExposureInterval]


class AuditLink(Reply):
    seq: int
    at: Moment
    action: str
    hash: str
    prev_hash: str


class CallFacts(Reply):
    call_connection_id: str | None
    server_call_id: str
    direction: str = Field(description="inbound, outbound or connect")
    phase: CallPhase
    recording: RecordingStatus = Field(description="as ACS last reported it")
    recording_id: str | None
    created_at: Moment
    ended_at: Moment | None
    participants: list[CallParticipant]
    recording_segments: list[Segment]
    stored_recordings: list[StoredRecording]
    exposure: Exposure | None


class Timeline(CallFacts):
    """One call: participants with their consent, segments, stored recordings, ledger and audit entries."""

    consents: list[ConsentRow]
    audit: list[AuditLink]


class PromptPlayed(Reply):
    prompt_id: str
    prompt_version: str
    locale: str
    sha256: str
    text: str | None = Field(description="null when the policy no longer has this version")
    audio_url: str | None


class LegalHold(Reply):
    id: int
    reason: str
    set_by: str
    set_at: Moment
    released_by: str | None
    released_at: Moment | None
    release_reason: str | None
    blob_hold: str | None = Field(description="what the Blob store said, e.g. not_configured, failed:<error>")


class EvidenceEntry(Reply):
    seq: int
    at: Moment
    actor: str
    action: str
    data: Any = Field(description="the entry's data as stored (text when it no longer parses)")
    prev_hash: str
    hash: str
    canonical: str | None = Field(description="the hashed content; null for an erased (tombstoned) entry")
    hash_matches: bool | None


class ChainHead(Reply):
    head_seq: int
    head_hash: str
    hash_rule: str
    verify_with: str


class Evidence(Reply):
    """Everything an auditor needs to show what happened on one call, and to check it against the chain."""

    call: CallFacts
    ledger: list[ConsentRow]
    prompts: list[PromptPlayed]
    exposure: Exposure | None
    recording_segments: list[Segment]
    stored_recordings: list[StoredRecording]
    legal_holds: list[LegalHold]
    audit_entries: list[EvidenceEntry]
    chain: ChainHead


class Anchors(Reply):
    configured: bool
    checked: int
    error: str | None


class Verification(Reply):
    ok: bool
    entries: int
    head: str
    first_bad: int | None
    anchors: Anchors
