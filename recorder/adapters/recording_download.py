"""ACS's recording files through the Call Automation SDK: ranged downloads, metadata, delete.

SDK 1.6.0 has a flaw in its own recording-URL check, so every URL goes through
``recording_urls.checked_recording_url`` here and the SDK is given the URL rebuilt from its parsed parts,
never the one that arrived; redirects are not followed (the webhook refused foreign hosts already). In
emulator mode (a loopback ``http://`` ACS endpoint) the request keeps its ACS URL up to signing and is then
sent to the emulator with the same path and query (contract.md): the HMAC signs only the path, the query and
the endpoint's host.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from azure.communication.callautomation import CallAutomationClient
from azure.core.credentials import AzureKeyCredential, TokenCredential
from azure.core.exceptions import (
    AzureError,
)
from azure.core.pipeline import PipelineRequest

from recorder.adapters.azure_errors import Kind, read_azure_error
from recorder.adapters.recording_urls import BadRecordingUrl, checked_recording_url, recording_url_problem
from recorder.services.storage.ports import RecordingUrlRejected, StorageError

T = TypeVar("T")
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
READ_SIZE = 1024 * 1024


def emulator_rewrite(endpoint: str) -> Callable[[PipelineRequest[Any]], None]:
    """A raw_request_hook sending ACS recording-host requests to the emulator at ``endpoint`` instead."""
    target = urlsplit(endpoint)

    def rewrite(request: PipelineRequest[Any]) -> None:
        url = urlsplit(request.http_request.url)
        if recording_url_problem(request.http_request.url) is None:
            request.http_request.url = urlunsplit((target.scheme, target.netloc, url.path, url.query, ""))

    return rewrite


class AcsRecordingSource:
    def __init__(
        self,
        endpoint: str,
        access_key: str | None,
        credential: TokenCredential | None,
        *,
        emulator_mode: bool,
    ) -> None:
        auth: AzureKeyCredential | TokenCredential | None = (
            AzureKeyCredential(access_key) if access_key else credential
        )
        if auth is None:
            raise ValueError("an access key or a token credential is needed")
        kwargs: dict[str, Any] = {
            "connection_data_block_size": READ_SIZE,
            "retry_total": 3,
            "permit_redirects": False,  # a 3xx from a recording host is an error, never a second fetch
        }
        if emulator_mode:
            kwargs["raw_request_hook"] = emulator_rewrite(endpoint)
        self._client = CallAutomationClient(endpoint, auth, **kwargs)

    def read_range(self, url: str, start: int, end: int) -> tuple[int, Iterator[bytes]]:
        url = _checked(url)
        # Our own Range header: the SDK sends none for offset 0.
        response = _call(
            lambda: self._client.download_recording(url, headers={"Range": f"bytes={start}-{end}"})
        )
        http: Any = response
        total = _total_size(http.headers.get("content-range"), http.headers.get("content-length"), start)
        if http.status_code == 200 and start > 0:
            http.close()
            raise StorageError("ACS ignored the Range header", transient=False, status=200)
        return total, _chunks(http)

    def read_small(self, url: str, limit: int) -> bytes:
        url = _checked(url)
        http: Any = _call(lambda: self._client.download_recording(url))
        data = bytearray()
        for chunk in _chunks(http):
            data.extend(chunk)
            if len(data) > limit:
                http.close()
                raise StorageError(f"recording metadata is larger than {limit} bytes", transient=False)
        return bytes(data)

    def delete(self, url: str) -> None:
        url = _checked(url)
        try:
            _call(lambda: self._client.delete_recording(url))
        except StorageError as exc:
            if exc.status != 404:  # already gone: ACS deletes its copy after 24 h anyway
                raise


def _checked(url: str) -> str:
    try:
        return checked_recording_url(url)
    except BadRecordingUrl as exc:
        raise RecordingUrlRejected(str(exc)) from None


def _total_size(content_range: str | None, content_length: str | None, start: int) -> int:
    if content_range:
        found = CONTENT_RANGE.fullmatch(content_range.strip())
        if found and found.group(3) != "*":
            return int(found.group(3))
    if content_length and content_length.isascii() and content_length.isdigit() and start == 0:
        return int(content_length)
    raise StorageError("ACS answered without a usable Content-Range", transient=False)


def _chunks(http: Any) -> Iterator[bytes]:
    try:
        yield from http.iter_bytes()
    except AzureError as exc:
        raise _translate(exc) from None
    finally:
        http.close()


def _call(operation: Callable[[], T]) -> T:
    try:
        return operation()
    except ValueError as exc:  # the SDK's own URL check
        raise RecordingUrlRejected(str(exc)) from None
    except AzureError as exc:
        raise _translate(exc) from None


def _translate(exc: AzureError) -> StorageError:
    failure = read_azure_error(exc)
    messages = {
        Kind.NOT_FOUND: "ACS: recording file not found",
        Kind.UNAUTHORIZED: "ACS: not authorized",
        Kind.EXISTS: f"ACS answered {failure.status}",
        Kind.ANSWERED: f"ACS answered {failure.status}",
        Kind.UNREACHABLE: f"ACS unreachable: {failure.name}",
    }
    message = messages.get(failure.kind, f"ACS error: {failure.name}")
    return StorageError(message, transient=failure.transient, status=failure.status)
