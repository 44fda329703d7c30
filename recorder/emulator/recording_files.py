"""Recording files: what ACS keeps after a recording stops, and the Event Grid event that announces them.

When a recording stops the emulator makes one audio file (a WAV whose length follows the recorded time),
serves it at ``/v1/objects/<documentId>/content/audio`` with Range support, its metadata JSON at
``.../content/acsmetadata``, deletes it on ``DELETE /v1/objects/<documentId>``, and sends
``Microsoft.Communication.RecordingFileStatusUpdated`` (Event Grid schema) to the Event Grid webhook. The URLs
in the event are on ACS's real recording host, so a client must check its allow-list and, against the
emulator, rewrite the host itself. With ``externalStorage`` the file is written into that container
instead (see ``byos_writer``). ``POST /emulator/recording-files`` makes a file of any size without a call
(benchmarks).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import struct
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from recorder.emulator import events
from recorder.emulator.callbacks import Delivery
from recorder.emulator.engine import Emulator
from recorder.emulator.hmac_auth import HmacError, request_target, verify_request
from recorder.emulator.state import Call, Recording

RECORDING_HOST = "https://us-storage.asm.skype.com"
PATTERN_SIZE = 1024 * 1024
PIECE = 1024 * 1024
BYTES_PER_SECOND = 32_000  # 16 kHz, 16-bit, mono
RANGE = re.compile(r"bytes=(\d+)-(\d*)")
FILE_EVENT = "RecordingFileStatusUpdated"


def wav_header(data_size: int) -> bytes:
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_size)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 16_000, BYTES_PER_SECOND, 2, 16)
        + b"data"
        + struct.pack("<I", data_size)
    )


@dataclass
class RecordingFile:
    document_id: str
    server_call_id: str
    recording_id: str
    size: int
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    deleted: bool = False
    downloads: int = 0
    bytes_served: int = 0
    byos_url: str | None = None
    _pattern: bytes = b""
    _header: bytes = b""
    _sha256: str | None = None

    def __post_init__(self) -> None:
        self._pattern = random.Random(self.document_id).randbytes(PATTERN_SIZE)
        self._header = wav_header(max(0, self.size - 44))[: self.size]

    def read(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start..end`` inclusive: a WAV header, then a repeating pseudo-random pattern."""
        position = start
        while position <= end:
            if position < len(self._header):
                piece = self._header[position : end + 1]
            else:
                offset = (position - len(self._header)) % PATTERN_SIZE
                piece = self._pattern[offset : offset + min(PIECE, end + 1 - position)]
            position += len(piece)
            self.bytes_served += len(piece)
            yield piece

    def sha256(self) -> str:
        if self._sha256 is None:
            hasher = hashlib.sha256()
            for piece in self.read(0, self.size - 1):
                hasher.update(piece)
            self._sha256 = hasher.hexdigest()
        return self._sha256

    def metadata(self) -> bytes:
        return json.dumps(
            {
                "resourceId": "acs-emulator",
                "callId": self.server_call_id[:36],
                "chunkDocumentId": self.document_id,
                "chunkIndex": 0,
                "chunkStartTime": events.timestamp(self.created_at),
                "recordingInfo": {"contentType": "audio", "channelType": "mixed", "format": "wav"},
            }
        ).encode()

    def describe(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "server_call_id": self.server_call_id,
            "recording_id": self.recording_id,
            "size": self.size,
            "sha256": self.sha256(),
            "deleted": self.deleted,
            "downloads": self.downloads,
            "bytes_served": self.bytes_served,
            "byos_url": self.byos_url,
        }


class RecordingFiles:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.files: dict[str, RecordingFile] = {}

    def recording_stopped(self, call: Call, recording: Recording) -> None:
        # listeners run before the engine closes the last span: an open span ends now
        now_ms = call.ms(time.monotonic())
        spans = call.recording_spans
        recorded_ms = sum((now_ms if s.end_ms is None else s.end_ms) - s.start_ms for s in spans)
        size = 44 + max(1, round(recorded_ms / 1000 * BYTES_PER_SECOND))
        size -= size % 2
        file = self.add(call.server_call_id, recording.recording_id, size)
        # after the callbacks the stop itself queued (RecordingStateChanged, CallDisconnected)
        asyncio.get_running_loop().call_soon(self._announce, call, recording, file)

    def add(self, server_call_id: str, recording_id: str, size: int) -> RecordingFile:
        file = RecordingFile(str(uuid.uuid4()), server_call_id, recording_id, size)
        self.files[file.document_id] = file
        return file

    def _announce(self, call: Call, recording: Recording, file: RecordingFile) -> None:
        url = self.emulator.config.eventgrid_webhook_url
        if url is None:
            return
        container = getattr(recording, "external_container_url", None)
        if container:
            asyncio.get_running_loop().create_task(self._write_then_announce(call, file, container, url))
            return
        self._submit(call.server_call_id, file_event(file, call.correlation_id), url, call)

    async def _write_then_announce(self, call: Call, file: RecordingFile, container: str, url: str) -> None:
        from recorder.emulator.byos_writer import write_recording

        file.byos_url = await write_recording(self.emulator.config, container, call.correlation_id, file)
        self._submit(call.server_call_id, file_event(file, call.correlation_id, byos=True), url, call)

    def _submit(self, key: str, event: dict[str, Any], url: str, call: Call | None) -> None:
        record = call.callbacks.append if call is not None else (lambda attempt: None)
        delivery = Delivery(url, [event], event["eventType"], record, eventgrid=True)
        self.emulator.dispatcher.submit(key, delivery)

    def announce_standalone(self, file: RecordingFile) -> None:
        url = self.emulator.config.eventgrid_webhook_url
        if url is not None:
            self._submit(file.server_call_id, file_event(file, str(uuid.uuid4())), url, None)


def file_event(file: RecordingFile, acs_call_id: str, *, byos: bool = False) -> dict[str, Any]:
    base = f"{RECORDING_HOST}/v1/objects/{file.document_id}"
    if byos and file.byos_url:
        chunk = {
            "documentId": file.document_id,
            "index": 0,
            "endReason": "SessionEnded",
            "contentLocation": file.byos_url,
            "metadataLocation": file.byos_url.rsplit("/", 1)[0] + "/0-acsmetadata.json",
        }
    else:
        chunk = {
            "documentId": file.document_id,
            "index": 0,
            "endReason": "SessionEnded",
            "contentLocation": f"{base}/content/audio",
            "metadataLocation": f"{base}/content/acsmetadata",
            "deleteLocation": base,
        }
    data: dict[str, Any] = {
        "recordingStorageInfo": {"recordingChunks": [chunk]},
        "recordingStartTime": events.timestamp(file.created_at),
        "recordingDurationMs": round((file.size - 44) / BYTES_PER_SECOND * 1000),
        "recordingContentType": "Audio",
        "recordingChannelType": "Mixed",
        "recordingFormatType": "Wav",
        "sessionEndReason": "CallEnded",
        "recordingId": file.recording_id,
    }
    if byos:
        data["storageType"] = "AzureBlob"
    return {
        "id": str(uuid.uuid4()),
        "topic": events.EVENTGRID_TOPIC,
        "subject": f"/recording/call/{acs_call_id}/serverCallId/{file.server_call_id}",
        "eventType": events.EVENT_PREFIX + FILE_EVENT,
        "data": data,
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": events.timestamp(),
    }


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def routes(emulator: Emulator, files: RecordingFiles) -> list[Route]:
    """The recording-file REST surface (HMAC-checked, like every ACS request) and its control API."""

    def authenticate(request: Request) -> Response | None:
        target = request_target(request.scope.get("raw_path") or b"", request.scope.get("query_string", b""))
        try:
            verify_request(
                access_key=emulator.config.access_key,
                method=request.method,
                target=target,
                headers=request.headers,
                body=b"",
            )
        except HmacError as exc:
            return _error(401, "Unauthorized", f"Denied by HMAC authentication: {exc}.")
        return None

    def find(request: Request) -> RecordingFile | Response:
        file = files.files.get(request.path_params["document_id"])
        if file is None or file.deleted:
            return _error(404, "8522", "Recording file not found.")
        return file

    async def content(request: Request) -> Response:
        denied = authenticate(request)
        if denied is not None:
            return denied
        file = find(request)
        if isinstance(file, Response):
            return file
        if request.path_params["kind"] == "acsmetadata":
            return Response(file.metadata(), media_type="application/json")
        file.downloads += 1
        start, end, status = 0, file.size - 1, 200
        asked = request.headers.get("range")
        if asked:
            found = RANGE.fullmatch(asked.strip())
            if found is None or int(found.group(1)) >= max(file.size, 1):
                return Response(status_code=416, headers={"Content-Range": f"bytes */{file.size}"})
            start = int(found.group(1))
            end = min(int(found.group(2)), file.size - 1) if found.group(2) else file.size - 1
            status = 206
        headers = {"Content-Length": str(end - start + 1), "Accept-Ranges": "bytes"}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{file.size}"
        return StreamingResponse(file.read(start, end), status, headers, media_type="audio/wav")

    async def delete(request: Request) -> Response:
        denied = authenticate(request)
        if denied is not None:
            return denied
        file = find(request)
        if isinstance(file, Response):
            return file
        file.deleted = True
        return Response(status_code=200)

    async def create(request: Request) -> Response:
        body = await request.json()
        size = body.get("size") if isinstance(body, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            return _error(400, "InvalidScenario", "size must be a positive whole number of bytes")
        file = files.add(str(body.get("server_call_id", "")), str(body.get("recording_id", "")), size)
        if body.get("announce") is True:
            files.announce_standalone(file)
        return JSONResponse(
            file.describe() if size <= 64 * 1024 * 1024 else {"document_id": file.document_id}, 201
        )

    async def describe(request: Request) -> Response:
        file = files.files.get(request.path_params["document_id"])
        if file is None:
            return _error(404, "NotFound", "No such recording file.")
        return JSONResponse(file.describe())

    async def listing(request: Request) -> Response:
        return JSONResponse([f.describe() for f in files.files.values() if f.size <= 64 * 1024 * 1024])

    return [
        Route("/v1/objects/{document_id}/content/{kind}", content, methods=["GET"]),
        Route("/v1/objects/{document_id}", delete, methods=["DELETE"]),
        Route("/emulator/recording-files", create, methods=["POST"]),
        Route("/emulator/recording-files", listing, methods=["GET"]),
        Route("/emulator/recording-files/{document_id}", describe, methods=["GET"]),
    ]
