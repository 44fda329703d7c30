"""Bring-your-own-storage, ACS's side: write a recording file into the customer's container.

Plain HTTP with SharedKey (the emulator imports no ``azure.*``), for Azurite or any account whose key is in
the emulator's ``storage_connection_string``. Blobs go where ACS puts them:
``<YYYYMMDD>/<callId>/<recordingId prefix>-<guid>/<index>-audio.wav`` plus ``<index>-acsmetadata.json``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from email.utils import formatdate
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import httpx

from recorder.emulator.config import EmulatorConfig

if TYPE_CHECKING:
    from recorder.emulator.recording_files import RecordingFile

API_VERSION = "2021-12-02"


def _account(config: EmulatorConfig) -> tuple[str, str]:
    pairs = (item.partition("=") for item in (config.storage_connection_string or "").split(";") if item)
    parts = {k.strip().lower(): v.strip() for k, _, v in pairs}
    if "accountname" not in parts or "accountkey" not in parts:
        raise ValueError("storage_connection_string needs AccountName and AccountKey")
    return parts["accountname"], parts["accountkey"]


def shared_key(account: str, key: str, method: str, url: str, headers: dict[str, str]) -> str:
    parts = urlsplit(url)
    length = headers.get("Content-Length", "")
    canonical_headers = "".join(
        f"{k.lower()}:{v}\n"
        for k, v in sorted(headers.items(), key=lambda kv: kv[0].lower())
        if k.lower().startswith("x-ms-")
    )
    string_to_sign = (
        "\n".join(
            [
                method,
                "",
                "",
                "" if length == "0" else length,
                "",
                headers.get("Content-Type", ""),
                "",
                "",
                "",
                "",
                "",
                "",
            ]
        )
        + "\n"
        + canonical_headers
        + f"/{account}{parts.path}"
    )
    digest = hmac.new(base64.b64decode(key), string_to_sign.encode(), hashlib.sha256).digest()
    return f"SharedKey {account}:{base64.b64encode(digest).decode()}"


async def put_blob(config: EmulatorConfig, url: str, body: bytes, content_type: str) -> None:
    account, key = _account(config)
    headers = {
        "x-ms-date": formatdate(usegmt=True),
        "x-ms-version": API_VERSION,
        "x-ms-blob-type": "BlockBlob",
        "Content-Type": content_type,
        "Content-Length": str(len(body)),
    }
    headers["Authorization"] = shared_key(account, key, "PUT", url, headers)
    async with httpx.AsyncClient(trust_env=False, timeout=60) as client:
        response = await client.put(url, content=body, headers=headers)
    if response.status_code != 201:
        raise RuntimeError(
            f"writing the recording into the customer's container failed: {response.status_code}"
        )


async def write_recording(
    config: EmulatorConfig, container_url: str, acs_call_id: str, file: RecordingFile
) -> str:
    """Write ``file`` (and its metadata JSON) under the container; returns the audio blob's URL."""
    day = file.created_at.strftime("%Y%m%d")
    folder = f"{day}/{acs_call_id}/{file.recording_id[:8]}-{uuid.uuid4()}"
    base = container_url.rstrip("/") + "/" + quote(folder)
    audio = b"".join(file.read(0, file.size - 1))
    await put_blob(config, f"{base}/0-audio.wav", audio, "audio/wav")
    await put_blob(config, f"{base}/0-acsmetadata.json", file.metadata(), "application/json")
    return f"{base}/0-audio.wav"
