"""Event Grid and ACS callback endpoints: authenticate, parse everything, then apply; answer fast."""

from __future__ import annotations

import hmac
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from recorder.bootstrap import Container
from recorder.observability import logs, metrics
from recorder.services.calls.consent_flow import IncomingCall
from recorder.services.storage.model import RecordingFileEvent
from recorder.web.responses import BodyTooLarge, error, read_body
from recorder.web.webhooks import auth as webhook_auth
from recorder.web.webhooks.parsing import (
    BadEvent,
    Envelope,
    IncomingCallData,
    data_as,
    envelopes,
    load_json,
)
from recorder.web.webhooks.recording_files import recording_file_event

log = logging.getLogger("recorder.webhooks")

INCOMING_CALL = "Microsoft.Communication.IncomingCall"
RECORDING_FILE = "Microsoft.Communication.RecordingFileStatusUpdated"


def _secret_ok(container: Container, request: Request) -> bool:
    presented = request.query_params.get("secret", "")
    return hmac.compare_digest(presented.encode(), container.settings.eventgrid_secret.encode())


async def eventgrid_options(request: Request) -> Response:
    """CloudEvents abuse-protection handshake."""
    container: Container = request.app.state.container
    if not _secret_ok(container, request):
        return error(401, "unauthorized", "wrong or missing secret")
    origin = request.headers.get("webhook-request-origin", "")
    if not origin:
        return error(400, "missing_origin", "WebHook-Request-Origin header is required")
    return Response(status_code=200, headers={"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*"})


async def eventgrid(request: Request) -> Response:
    container: Container = request.app.state.container
    if not _secret_ok(container, request):
        log.warning("webhook.auth_failed", extra={"channel": "eventgrid"})
        metrics.AUTH_FAILURES.labels("eventgrid").inc()
        return error(401, "unauthorized", "wrong or missing secret")
    entra_refusal = await webhook_auth.eventgrid_entra(container, request)
    if entra_refusal is not None:  # with Entra ID configured, a token from Event Grid as well as the secret
        return entra_refusal
    try:
        events = envelopes(load_json(await read_body(request)), webhook_auth.MAX_BATCH)
        webhook_auth.check_window(events, container.clock(), container.settings.security.event_window)
        incoming = [_incoming_call(e) for e in events if e.type == INCOMING_CALL]
        files = [recording_file_event(e) for e in events if e.type == RECORDING_FILE]
    except (BodyTooLarge, BadEvent) as exc:
        return webhook_auth.unreadable("eventgrid", exc)
    validation = next((e.validation_code for e in events if e.validation_code is not None), None)
    if validation is not None:
        log.info("webhook.subscription_validated")
        return JSONResponse({"validationResponse": validation})
    for call in incoming:
        with logs.call_context(serverCallId=call.server_call_id, correlationId=call.correlation_id):
            with metrics.EVENT_SECONDS.labels("eventgrid").time():
                outcome, _ = await run_in_threadpool(container.calls.incoming_call, call)
            metrics.event_received("eventgrid", INCOMING_CALL, outcome.value)
    for file_event in files:  # queued in one short transaction; the transfer runs in the background
        await _recording_file(container, file_event)
    ignored = [e for e in events if e.type not in (INCOMING_CALL, RECORDING_FILE)]
    for e in ignored:  # acknowledged and counted: refusing would only dead-letter what we do not need
        log.info("webhook.ignored", extra={"event_type": e.type[:200], "event_id": e.id})
        metrics.event_received("eventgrid", e.type, "ignored")
    return JSONResponse({"accepted": len(events), "ignored": len(ignored)})


def _incoming_call(e: Envelope) -> IncomingCall:
    data = data_as(IncomingCallData, e.data)
    return IncomingCall(
        event_id=e.id,
        server_call_id=data.serverCallId,
        incoming_call_context=data.incomingCallContext,
        caller=data.caller,
        callee=data.callee,
        correlation_id=data.correlationId or None,
    )


async def _recording_file(container: Container, file_event: RecordingFileEvent) -> None:
    if container.storage is None:
        log.warning("recording.storage_not_configured", extra={"event_id": file_event.event_id})
        metrics.event_received("eventgrid", RECORDING_FILE, "ignored")
        return
    accepted = await run_in_threadpool(container.storage.accept, file_event)
    stored = "applied" if accepted == "queued" else str(accepted)
    metrics.event_received("eventgrid", RECORDING_FILE, stored)


async def acs_callback(request: Request) -> Response:
    """Admit the delivery (``auth.admit_acs``); the call service binds its events to the call and applies."""
    container: Container = request.app.state.container
    call_id = request.path_params["call_id"]
    admitted = await webhook_auth.admit_acs(container, request, call_id)
    if isinstance(admitted, Response):
        return admitted
    logs.bind_call(call_id=call_id, **logs.ids_from_payload(admitted.payload))
    apply, dispatcher = container.calls.apply_callbacks, container.dispatcher
    run_now = dispatcher.hand_over if dispatcher.running else None  # else run by hand (tests, drains)
    delivered = await run_in_threadpool(apply, call_id, admitted.events, admitted.replays, run_now)
    if delivered.foreign:
        foreign = list(delivered.foreign[:5])
        log.warning("webhook.call_mismatch", extra={"call_id": call_id, "event_ids": foreign})
        return error(403, "call_mismatch", "the events are for another call than this callback URL's")
    if delivered.refused is not None:
        return error(403, "replayed", delivered.refused)
    return JSONResponse({"outcomes": delivered.outcomes})
