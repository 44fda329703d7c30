"""Recording files: what ACS keeps after a recording stops, and the Event Grid event that announces them.

When a recording stops the emulator cuts the recorded time into chunks (``recording_chunk_ms``), makes one
file per chunk in the kinds the start request asked for (else ACS's default, ``recording_*_default``),
serves each at ``/v1/objects/<documentId>/content/<audio|video>`` with Range support, its metadata JSON at
``.../content/acsmetadata``, deletes it on ``DELETE /v1/objects/<documentId>``, and, after
``recording_file_delay_ms``, sends ``Microsoft.Communication.RecordingFileStatusUpdated`` through Event Grid
(again as a separate export ``recording_file_duplicates`` times). With ``externalStorage`` the chunks are also
written into that container first (``byos_writer``), and the event takes the documented bring-your-own-
storage shape (``file_events``). ``POST /emulator/recording-files`` makes a file of any size without a call.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import struct
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from recorder.emulator import events, file_events
from recorder.emulator.engine import Emulator
from recorder.emulator.state import Call, Recording

PATTERN_SIZE = 1024 * 1024
PIECE = 1024 * 1024
BYTES_PER_SECOND = 32_000  # 16 kHz, 16-bit, mono
MP4_HEADER = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
MP3_HEADER = b"ID3\x04\x00\x00\x00\x00\x00\x00"


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
    index: int = 0
    end_reason: str = "SessionEnded"
    content_type: str = "audio"
    channel_type: str = "mixed"
    format_type: str = "wav"
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
        header = {"mp4": MP4_HEADER, "mp3": MP3_HEADER}.get(self.format_type) or wav_header(self.size - 44)
        self._header = header[: self.size]

    @property
    def content_kind(self) -> str:
        """The last segment of ACS's content URL: ``audio`` or ``video`` (audio+video)."""
        return "video" if self.content_type == "audioVideo" else "audio"

    def read(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start..end`` inclusive: a format header, then a repeating pseudo-random pattern."""
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

    def duration_ms(self) -> int:
        return round(max(0, self.size - 44) / BYTES_PER_SECOND * 1000)

    def metadata(self) -> bytes:
        return json.dumps(
            {
                "resourceId": "acs-emulator",
                "callId": self.server_call_id[:36],
                "chunkDocumentId": self.document_id,
                "chunkIndex": self.index,
                "chunkStartTime": events.timestamp(self.created_at),
                "recordingInfo": {
                    "contentType": self.content_type,
                    "channelType": self.channel_type,
                    "format": self.format_type,
                },
            }
        ).encode()

    def describe(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "server_call_id": self.server_call_id,
            "recording_id": self.recording_id,
            "index": self.index,
            "size": self.size,
            "sha256": self.sha256(),
            "format": self.format_type,
            "deleted": self.deleted,
            "downloads": self.downloads,
            "bytes_served": self.bytes_served,
            "byos_url": self.byos_url,
        }


def chunk_sizes(recorded_ms: float, chunk_ms: float) -> list[int]:
    """File sizes (bytes) for ``recorded_ms`` of audio cut every ``chunk_ms``; always at least one chunk."""
    count = max(1, math.ceil(recorded_ms / chunk_ms))
    sizes = []
    for index in range(count):
        part_ms = min(chunk_ms, recorded_ms - index * chunk_ms)
        size = 44 + max(1, round(part_ms / 1000 * BYTES_PER_SECOND))
        sizes.append(size - size % 2)
    return sizes


class RecordingFiles:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.files: dict[str, RecordingFile] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def recording_stopped(self, call: Call, recording: Recording) -> None:
        # listeners run before the engine closes the last span: an open span ends now
        now_ms = call.ms(time.monotonic())
        spans = call.recording_spans
        recorded_ms = sum((now_ms if s.end_ms is None else s.end_ms) - s.start_ms for s in spans)
        sizes = chunk_sizes(recorded_ms, call.behaviour.recording_chunk_ms)
        chunks = [self._chunk(call, recording, index, size, len(sizes)) for index, size in enumerate(sizes)]
        delay_s = call.behaviour.recording_file_delay_ms / 1000 * self.emulator.config.time_scale
        task = asyncio.get_running_loop().create_task(self._announce_later(call, recording, chunks, delay_s))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _chunk(self, call: Call, recording: Recording, index: int, size: int, count: int) -> RecordingFile:
        chunk_start = recording.started_at + timedelta(milliseconds=index * call.behaviour.recording_chunk_ms)
        return self.add(
            call.server_call_id,
            recording.recording_id,
            size,
            index=index,
            end_reason="SessionEnded" if index == count - 1 else "ChunkMaximumSizeExceeded",
            content_type=recording.content_type,
            channel_type=recording.channel_type,
            format_type=recording.format_type,
            created_at=chunk_start,
        )

    def add(self, server_call_id: str, recording_id: str, size: int, **details: Any) -> RecordingFile:
        file = RecordingFile(str(uuid.uuid4()), server_call_id, recording_id, size, **details)
        self.files[file.document_id] = file
        return file

    async def _announce_later(
        self, call: Call, recording: Recording, chunks: list[RecordingFile], delay_s: float
    ) -> None:
        await asyncio.sleep(delay_s)  # ACS announces the files some time after the recording ends
        container = recording.external_container_url
        if container:
            from recorder.emulator import byos_writer

            day = recording.started_at.strftime("%Y%m%d")
            folder = byos_writer.recording_folder(day, call.correlation_id, recording.recording_id)
            for chunk in chunks:
                chunk.byos_url = await byos_writer.write_recording(
                    self.emulator.config, container, folder, chunk
                )
        byos_type = call.behaviour.byos_storage_type if container else None
        for _ in range(1 + call.behaviour.recording_file_duplicates):  # exports can be duplicated
            event = file_events.file_event(chunks, call.correlation_id, recording.started_at, byos_type)
            self.emulator.publish(call, event)

    def announce_standalone(self, file: RecordingFile) -> None:
        event = file_events.file_event([file], str(uuid.uuid4()), file.created_at, None)
        self.emulator.publish(None, event)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
