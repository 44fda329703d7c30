"""The recording-file REST surface: download (Range), metadata and delete, HMAC-checked like every ACS
request; and ``/emulator/recording-files`` to make a file of any size without a call (benchmarks)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from recorder.emulator.engine import Emulator
from recorder.emulator.hmac_auth import hmac_denial
from recorder.emulator.recording_files import RecordingFile, RecordingFiles

RANGE = re.compile(r"bytes=(\d+)-(\d*)")
MEDIA_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "mp4": "video/mp4"}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def byte_range(asked: str | None, size: int) -> tuple[int, int, int] | None:
    """(start, end, status) for a ``Range`` header (200 for the whole file); None when unsatisfiable."""
    if not asked:
        return 0, size - 1, 200
    found = RANGE.fullmatch(asked.strip())
    if found is None or int(found.group(1)) >= max(size, 1):
        return None
    end = min(int(found.group(2)), size - 1) if found.group(2) else size - 1
    return int(found.group(1)), end, 206


class FileRoutes:
    """The recording-file REST surface (HMAC-checked, like every ACS request) and its control API."""

    def __init__(self, emulator: Emulator, files: RecordingFiles) -> None:
        self.emulator = emulator
        self.files = files

    def routes(self) -> list[Route]:
        return [
            Route("/v1/objects/{document_id}/content/{kind}", self.content, methods=["GET"]),
            Route("/v1/objects/{document_id}", self.delete, methods=["DELETE"]),
            Route("/emulator/recording-files", self.create, methods=["POST"]),
            Route("/emulator/recording-files", self.listing, methods=["GET"]),
            Route("/emulator/recording-files/{document_id}", self.describe, methods=["GET"]),
        ]

    def _file(self, request: Request) -> RecordingFile | Response:
        """The file the request names, after the HMAC check; an error response otherwise."""
        denial = hmac_denial(self.emulator.config.access_key, request, b"")
        if denial is not None:
            return _error(401, "Unauthorized", denial)
        file = self.files.files.get(request.path_params["document_id"])
        if file is None or file.deleted:
            return _error(404, "8522", "Recording file not found.")
        return file

    async def content(self, request: Request) -> Response:
        file = self._file(request)
        if isinstance(file, Response):
            return file
        kind = request.path_params["kind"]
        if kind == "acsmetadata":
            return Response(file.metadata(), media_type="application/json")
        if kind != file.content_kind:
            return _error(404, "8522", f"The recording has no {kind} content.")
        file.downloads += 1
        chosen = byte_range(request.headers.get("range"), file.size)
        if chosen is None:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{file.size}"})
        start, end, status = chosen
        headers = {"Content-Length": str(end - start + 1), "Accept-Ranges": "bytes"}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{file.size}"
        media_type = MEDIA_TYPES[file.format_type]
        return StreamingResponse(file.read(start, end), status, headers, media_type=media_type)

    async def delete(self, request: Request) -> Response:
        file = self._file(request)
        if isinstance(file, Response):
            return file
        file.deleted = True
        return Response(status_code=200)

    async def create(self, request: Request) -> Response:
        body = await request.json()
        size = body.get("size") if isinstance(body, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            return _error(400, "InvalidScenario", "size must be a positive whole number of bytes")
        file = self.files.add(str(body.get("server_call_id", "")), str(body.get("recording_id", "")), size)
        if body.get("announce") is True:
            self.files.announce_standalone(file)
        return JSONResponse(
            file.describe() if size <= 64 * 1024 * 1024 else {"document_id": file.document_id}, 201
        )

    async def describe(self, request: Request) -> Response:
        file = self.files.files.get(request.path_params["document_id"])
        if file is None:
            return _error(404, "NotFound", "No such recording file.")
        return JSONResponse(file.describe())

    async def listing(self, request: Request) -> Response:
        return JSONResponse([f.describe() for f in self.files.files.values() if f.size <= 64 * 1024 * 1024])
