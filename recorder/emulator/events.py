"""The payloads ACS sends: CloudEvents to callback URIs and Event Grid events to the webhook.

Field names, ``publicEventType``, ``version`` and ``source``/``subject`` follow payloads recorded from the
real service (API version 2026-03-12, which carries no ``eventSource``); event-specific fields follow the SDK
1.6.0 models where no recording exists. ``tests/unit/test_emulator_event_schema.py`` holds every builder here
to the recorded payloads.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from recorder.emulator.identifiers import identifier_model
from recorder.emulator.state import Call

API_VERSION = "2026-03-12"
EVENT_PREFIX = "Microsoft.Communication."
EVENTGRID_TOPIC = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/acs-emulator"
    "/providers/Microsoft.Communication/communicationServices/acs-emulator"
)


def timestamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).isoformat()


def result_information(code: int, sub_code: int, message: str) -> dict[str, Any]:
    return {"code": code, "subCode": sub_code, "message": message}


CONNECTED = result_information(200, 0, "")
ACTION_OK = result_information(200, 0, "Action completed successfully.")
ENDED_BY_API = result_information(
    200,
    7000,
    "Call was ended by Azure Communication Service Call Automation API or a server bot. DiagCode: 0#7000.@",
)
ENDED_BY_PARTICIPANT = result_information(200, 0, "The conversation has ended. DiagCode: 0#0.@")
MAX_DIGITS = result_information(200, 8531, "Action completed, max digits received.")
STOP_TONE = result_information(200, 8514, "Action completed as stop tone was detected.")
SILENCE_TIMEOUT = result_information(400, 8510, "Action failed, initial silence timeout reached.")
CANCELED = result_information(400, 8508, "Action failed, the operation was canceled.")
NOT_CONNECTED = result_information(400, 8500, "Recording could not start: the call is not connected.")
TARGET_LEFT = result_information(
    400, 8558, "Action failed, the target participant is not present in the call."
)
INVALID_FILE = result_information(400, 8535, "Action failed, file format is invalid.")
FILE_DOWNLOAD_FAILED = result_information(400, 8536, "Action failed, file could not be downloaded.")
COGNITIVE_NOT_LINKED = result_information(
    400, 8567, "Action failed, the Azure AI services resource is not connected to this resource."
)
TONE_FAILED = result_information(400, 8510, "Continuous DTMF recognition failed to recognize a tone.")


def connection_source(call_connection_id: str) -> str:
    return f"calling/callConnections/{call_connection_id}"


def recording_source(server_call_id: str, recording_id: str) -> str:
    return f"calling/recordings/{server_call_id}/{recording_id}/RecordingStateChanged"


def cloud_event(
    name: str,
    call: Call,
    fields: dict[str, Any],
    *,
    result: dict[str, Any],
    operation_context: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """One callback CloudEvent; ``fields`` are the event-specific members of ``data``."""
    source = source or connection_source(call.call_connection_id or "")
    data: dict[str, Any] = dict(fields)
    if operation_context is not None:
        data["operationContext"] = operation_context
    data.update(
        {
            "resultInformation": result,
            "version": API_VERSION,
            "callConnectionId": call.call_connection_id,
            "serverCallId": call.server_call_id,
            "correlationId": call.correlation_id,
            "publicEventType": EVENT_PREFIX + name,
        }
    )
    return {
        "id": str(uuid.uuid4()),
        "source": source,
        "type": EVENT_PREFIX + name,
        "data": data,
        "time": timestamp(),
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "subject": source,
    }


def incoming_call_event(call: Call) -> dict[str, Any]:
    """The Event Grid schema event announcing ``call`` (Microsoft.Communication.IncomingCall)."""
    scenario = call.scenario
    return {
        "id": str(uuid.uuid4()),
        "topic": EVENTGRID_TOPIC,
        "subject": f"/caller/{scenario.caller}/recipient/{scenario.callee}",
        "eventType": EVENT_PREFIX + "IncomingCall",
        "data": {
            "to": identifier_model(scenario.callee),
            "from": identifier_model(scenario.caller),
            "serverCallId": call.server_call_id,
            "callerDisplayName": scenario.caller_display_name,
            "incomingCallContext": call.incoming_call_context,
            "correlationId": call.correlation_id,
        },
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": timestamp(),
    }


# Event-specific members of ``data`` ------------------------------------------------------------------


def participants_fields(participants: list[dict[str, Any]], sequence_number: int | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"participants": participants}
    if sequence_number is not None:  # optional in ACS's schema; a fault can leave it out
        fields["sequenceNumber"] = sequence_number
    return fields


def recognize_completed_fields(tones: tuple[str, ...]) -> dict[str, Any]:
    return {"recognitionType": "dtmf", "dtmfResult": {"tones": list(tones)}}


def failed_source_fields(index: int | None) -> dict[str, Any]:
    return {} if index is None else {"failedPlaySourceIndex": index}


def tone_fields(tone: str, sequence_id: int) -> dict[str, Any]:
    return {"tone": tone, "sequenceId": sequence_id}


def recording_state_fields(recording_id: str, state: str, started_at: datetime) -> dict[str, Any]:
    return {
        "recordingId": recording_id,
        "state": state,
        "startDateTime": timestamp(started_at),
        "recordingKind": "azureCommunicationServices",
    }
