"""The recording-file REST surface: download (Range), metadata and delete, HMAC-checked like every ACS
request; and ``/emulator/recording-files`` to make a file of any size without a call (benchmarks)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from recorder.emulator.engine import Emulator
from recorder.emulator.hmac_auth import HmacError, request_target, verify_request
from recorder.emulator.recording_files import RecordingFile, RecordingFiles

RANGE = re.compile(r"bytes=(\d+)-(\d*)")
MEDIA_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "mp4": "video/mp4"}


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
        kind = request.path_params["kind"]
        if kind == "acsmetadata":
            return Response(file.metadata(), media_type="application/json")
        if kind != file.content_kind:
            return _error(404, "8522", f"The recording has no {kind} content.")
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
        media_type = MEDIA_TYPES[file.format_type]
        return StreamingResponse(file.read(start, end), status, headers, media_type=media_type)

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
