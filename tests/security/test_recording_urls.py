"""Recording URLs: the webhook refuses every URL two parsers could read differently (400, nothing stored), the
download adapter refuses them before the SDK sends a byte, and a redirect from a recording host is never
followed."""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from recorder.adapters.recording_download import AcsRecordingSource
from recorder.services.storage.ports import RecordingUrlRejected, StorageError
from tests.e2e.stack import free_port, wait_http
from tests.security.world import World, now_iso

GOOD = "https://us-storage.asm.skype.com/v1/objects/0-eus-d2-abc/content/audio"
HOSTILE = [
    "https://evil.example\\.asm.skype.com/v1/objects/x/content/audio",  # urllib3 connects to evil.example
    "https://evil.example%5C.asm.skype.com/v1/objects/x",
    "https://us-storage.asm.skype.com:99999/v1/objects/x",
    "https://us-storage.asm.skype.com:abc/v1/objects/x",
    "https://us-storage.asm.skype.com:8443/v1/objects/x",
    "https://[x/v1/objects/x",
    "https://[::1].asm.skype.com/x",
    "https://us-storage.asm.skype.com\uff0fevil.example/x",  # fullwidth solidus: '/' after NFKC
    "https://evil.example\u2100.asm.skype.com/x",  # a/c
    "https://us-storage.asm.sk\u0443pe.com/x",  # Cyrillic 'u'
    "https://user:pw@us-storage.asm.skype.com/v1/objects/x",
    "https://evil.example@us-storage.asm.skype.com/x",
    "https://us-storage.asm.skype.com%2f.evil.example/x",
    "https://%65vil.asm.skype.com/x",
    "https://evil.example%2eus.asm.skype.com/x",
    "https://evil_host.asm.skype.com/x",
    "https://.asm.skype.com/x",
    "https://us-storage..asm.skype.com/x",
    "https://us-storage.asm.skype.com.evil.example/x",
    "http://us-storage.asm.skype.com/v1/objects/x",
    "https://us-storage.asm.skype.com/x#frag",
    "https://us-storage.asm.skype.com/x y",
    "https://us-storage.asm.skype.com/x\t",
    "https://us-storage.asm.skype.com/%zz",
    "https://us-storage.asm.skype.com/x\\..\\y",
    "https:/us-storage.asm.skype.com/x",
    "https://us-storage.asm.skype.com:/x",
    "//us-storage.asm.skype.com/x",
    "https://" + "a" * 64 + ".asm.skype.com/x",
    "https://us-storage.asm.skype.com/" + "a" * 4100,
]


def recording_file_event(url: str, event_id: str = "rf-1") -> dict[str, Any]:
    chunk = {"documentId": "doc-1", "index": 0, "contentLocation": url, "metadataLocation": GOOD}
    return {
        "id": event_id,
        "eventType": "Microsoft.Communication.RecordingFileStatusUpdated",
        "subject": "/recording/call/c/serverCallId/server-1",
        "eventTime": now_iso(),
        "data": {"recordingStorageInfo": {"recordingChunks": [chunk]}, "recordingFormatType": "Wav"},
    }


def test_the_webhook_refuses_urls_the_transport_could_read_differently(world: World) -> None:
    before = world.snapshot()
    for url in HOSTILE:
        response = world.eventgrid(recording_file_event(url))
        assert response.status_code == 400, (url, response.text)
        assert response.json()["error"]["code"] == "invalid_recording_url"
    assert world.snapshot() == before


def test_a_genuine_recording_url_is_accepted(world: World) -> None:
    assert world.eventgrid(recording_file_event(GOOD)).status_code == 200
    uppercase_host = GOOD.replace("us-storage.asm.skype.com", "US-Storage.ASM.skype.com")
    assert world.eventgrid(recording_file_event(uppercase_host, "rf-2")).status_code == 200


class Upstream:
    """Stands where ACS's recording host is (the emulator rewrite sends requests here); it can redirect."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.redirect_to: str | None = None
        self.port = free_port()

        async def anything(request: Request) -> Response:
            self.requests.append(f"{request.method} {request.url.path}")
            if self.redirect_to and request.url.path.startswith("/v1/"):
                return RedirectResponse(self.redirect_to, status_code=302)
            return Response(b"0123456789", headers={"Content-Range": "bytes 0-9/10"}, status_code=206)

        routes = [Route("/{path:path}", anything, methods=["GET", "DELETE"])]
        self.server = uvicorn.Server(
            uvicorn.Config(Starlette(routes=routes), host="127.0.0.1", port=self.port, log_level="warning")
        )
        threading.Thread(target=self.server.run, daemon=True).start()
        wait_http(f"http://127.0.0.1:{self.port}/ready")
        self.requests.clear()


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.server.should_exit = True


def source_for(upstream: Upstream) -> AcsRecordingSource:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    return AcsRecordingSource(f"http://127.0.0.1:{upstream.port}", key, None, emulator_mode=True)


@pytest.mark.parametrize("url", HOSTILE)
def test_the_adapter_refuses_them_before_the_sdk_sends_anything(upstream: Upstream, url: str) -> None:
    source = source_for(upstream)
    upstream.requests.clear()
    with pytest.raises(RecordingUrlRejected):
        source.read_range(url, 0, 9)
    with pytest.raises(RecordingUrlRejected):
        source.read_small(url, 100)
    with pytest.raises(RecordingUrlRejected):
        source.delete(url)
    assert upstream.requests == []


def test_a_redirect_from_the_recording_host_is_not_followed(upstream: Upstream) -> None:
    source = source_for(upstream)
    upstream.requests.clear()
    total, chunks = source.read_range(GOOD, 0, 9)
    assert (total, b"".join(chunks)) == (10, b"0123456789")
    upstream.redirect_to = f"http://127.0.0.1:{upstream.port}/stolen"
    try:
        with pytest.raises(StorageError):
            source.read_range(GOOD, 0, 9)
    finally:
        upstream.redirect_to = None
    assert not any(r.endswith("/stolen") for r in upstream.requests), upstream.requests
