"""What ACS accepts as a prompt: WAV files (mono, 16-bit, 16 kHz) it can download, text-to-speech only
through an Azure AI services resource linked to the ACS resource, and never to Teams users.

Request-time problems are REST errors; what ACS finds out while playing (a file it cannot fetch or read, an
AI resource that is not linked) ends the operation with PlayFailed/RecognizeFailed and a sub-code.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import httpx

from recorder.emulator import events
from recorder.emulator.rest import AcsError

# Teams users, Teams apps and Teams phone users: Call Automation cannot play to them.
TEAMS_PREFIXES = ("8:orgid:", "8:dod:", "8:gcch:", "8:teamsvisitor:", "28:")
MAX_HEADER = 4096
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SourceFailure:
    index: int
    result: dict[str, Any]


def check_targets(raw_ids: tuple[str, ...]) -> None:
    teams = [raw_id for raw_id in raw_ids if raw_id.startswith(TEAMS_PREFIXES)]
    if teams:
        raise AcsError(405, "8520", f"Playing audio to a Teams user is not supported ({teams[0]}).")


def check_text_allowed(sources: tuple[dict[str, Any], ...], cognitive_endpoint: str | None) -> None:
    """Text or SSML needs the Azure AI services endpoint given when the call was answered or created."""
    if any(source.get("kind") in ("text", "ssml") for source in sources) and not cognitive_endpoint:
        raise AcsError(
            405,
            "8522",
            "Missing configuration: text-to-speech needs cognitiveServicesEndpoint when the call is "
            "answered, created or connected.",
        )


def linked_problem(
    sources: tuple[dict[str, Any], ...], cognitive_endpoint: str | None, linked: tuple[str, ...]
) -> SourceFailure | None:
    for index, source in enumerate(sources):
        if source.get("kind") in ("text", "ssml") and _norm(cognitive_endpoint) not in map(_norm, linked):
            return SourceFailure(index, events.COGNITIVE_NOT_LINKED)
    return None


def _norm(url: str | None) -> str:
    return (url or "").rstrip("/").lower()


def file_urls(sources: tuple[dict[str, Any], ...]) -> list[tuple[int, str]]:
    found = []
    for index, source in enumerate(sources):
        if source.get("kind") == "file":
            uri = (source.get("file") or {}).get("uri")
            found.append((index, uri if isinstance(uri, str) else ""))
    return found


class FileChecker:
    """Downloads prompt files the way ACS does and remembers each URL's verdict."""

    def __init__(self) -> None:
        self._verdicts: dict[str, dict[str, Any] | None] = {}
        self._client: httpx.AsyncClient | None = None

    async def problem(self, sources: tuple[dict[str, Any], ...]) -> SourceFailure | None:
        for index, url in file_urls(sources):
            if url not in self._verdicts:
                self._verdicts[url] = await self._check(url)
            result = self._verdicts[url]
            if result is not None:
                return SourceFailure(index, result)
        return None

    async def _check(self, url: str) -> dict[str, Any] | None:
        if not url.startswith(("http://", "https://")):
            return events.FILE_DOWNLOAD_FAILED
        try:
            response = await self._http().get(url, headers={"Range": f"bytes=0-{MAX_HEADER - 1}"})
        except httpx.HTTPError:
            return events.FILE_DOWNLOAD_FAILED
        if response.status_code not in (200, 206):
            return events.FILE_DOWNLOAD_FAILED
        return None if wav_is_playable(response.content[:MAX_HEADER]) else events.INVALID_FILE

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=TIMEOUT_S, trust_env=False, follow_redirects=True)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def wav_is_playable(data: bytes) -> bool:
    """RIFF/WAVE with a PCM ``fmt`` chunk: 1 channel, 16,000 samples/s, 16 bits per sample."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return False
    position = 12
    while position + 8 <= len(data):
        chunk_id, size = (
            data[position : position + 4],
            struct.unpack("<I", data[position + 4 : position + 8])[0],
        )
        if chunk_id == b"fmt ":
            if size < 16 or position + 24 > len(data):
                return False
            audio_format, channels, rate, _, _, bits = struct.unpack(
                "<HHIIHH", data[position + 8 : position + 24]
            )
            return (audio_format, channels, rate, bits) == (1, 1, 16_000, 16)
        position += 8 + size + (size % 2)
    return False
