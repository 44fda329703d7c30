"""Bring-your-own-storage, ACS's side: write a recording file into the customer's container.

Plain HTTP with SharedKey (the emulator imports no ``azure.*``), for Azurite or any account whose key is in
the emulator's ``storage_connection_string``. Blobs go where ACS documents it (BYOS quickstart, "Folder
Structure for Call Recording"): ``/YYYYMMDD/callId/first_8_of_recordingId-<guid>/`` holding
``[chunk]-audiomp3.<documentId>.mp3`` (here ``audiowav``/``videomp4``... after the requested kinds) and
``[chunk]-acsmetadata.<documentId>.json``.
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


def recording_folder(day: str, acs_call_id: str, recording_id: str) -> str:
    """One folder per recording session: ``YYYYMMDD/<callId>/<first 8 of recordingId>-<guid>``."""
    return f"{day}/{acs_call_id}/{recording_id[:8]}-{uuid.uuid4()}"


async def write_recording(
    config: EmulatorConfig, container_url: str, folder: str, file: RecordingFile
) -> str:
    """Write ``file`` and its metadata JSON into ``folder`` of the container; returns the media blob URL."""
    base = container_url.rstrip("/") + "/" + quote(folder)
    media = f"{file.index}-{file.content_kind}{file.format_type}.{file.document_id}.{file.format_type}"
    content_type = {"wav": "audio/wav", "mp3": "audio/mpeg", "mp4": "video/mp4"}[file.format_type]
    await put_blob(config, f"{base}/{media}", b"".join(file.read(0, file.size - 1)), content_type)
    metadata = f"{file.index}-acsmetadata.{file.document_id}.json"
    await put_blob(config, f"{base}/{metadata}", file.metadata(), "application/json")
    return f"{base}/{media}"
