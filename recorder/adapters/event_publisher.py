"""Publishes CloudEvents to an Event Grid topic with ``EventGridPublisherClient``: key or Managed Identity.

The SDK takes a plain ``http://`` endpoint with a key (the ``aeg-sas-key`` header), which is how the loopback
emulator's topic is reached; token credentials (Managed Identity) insist on https, as Event Grid does.
"""

from __future__ import annotations

from collections.abc import Sequence

from azure.core.credentials import AzureKeyCredential, TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridPublisherClient

from recorder.domain.published import OutgoingEvent
from recorder.services.ports import PublishError


class EventGridPublisher:
    def __init__(self, endpoint: str, key: str | None, credential: TokenCredential | None = None) -> None:
        if key:
            auth: AzureKeyCredential | TokenCredential = AzureKeyCredential(key)
        elif credential is not None:
            auth = credential
        else:
            raise ValueError("a topic key or a token credential is needed")
        # Few, quick SDK retries: our own queue retries with backoff for as long as the topic is down.
        self._client = EventGridPublisherClient(
            endpoint,
            auth,
            retry_total=2,
            retry_backoff_factor=0.2,
            connection_timeout=5,
            read_timeout=15,
        )

    def publish(self, events: Sequence[OutgoingEvent]) -> None:
        if not events:
            return
        batch = [
            CloudEvent(
                source=e.source,
                type=e.type,
                data=e.data,
                id=e.id,
                time=e.time,
                subject=e.subject or None,
                datacontenttype="application/json",
            )
            for e in events
        ]
        try:
            self._client.send(batch)
        except HttpResponseError as exc:
            raise PublishError(f"the topic answered {exc.status_code}") from None
        except AzureError as exc:
            raise PublishError(f"the topic is unreachable: {type(exc).__name__}") from None

    def close(self) -> None:
        self._client.close()


def build_event_publisher(endpoint: str, key: str | None) -> EventGridPublisher:
    if key:
        return EventGridPublisher(endpoint, key)
    from azure.identity import DefaultAzureCredential

    return EventGridPublisher(endpoint, None, DefaultAzureCredential())
