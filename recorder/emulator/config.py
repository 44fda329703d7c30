"""Settings of the local ACS Call Automation emulator."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator authenticates requests and signs the callbacks it sends.

    ``access_key`` is the base64 HMAC key the SDK signs with. ``resource_id`` is the ``aud`` of callback JWTs
    and ``issuer`` their ``iss`` ("" means the emulator's own base URL). ``eventgrid_webhook_url`` (with its
    ``?secret=...``) receives the Event Grid IncomingCall deliveries; ``None`` sends none. ``time_scale``
    multiplies every scripted delay. ``public_host`` is the host name put in the URLs the emulator advertises.
    """

    access_key: str
    resource_id: str
    issuer: str = ""
    eventgrid_webhook_url: str | None = None
    time_scale: float = 1.0
    public_host: str = "127.0.0.1"
    events_topic_key: str | None = field(default=None, repr=False)  # the Event Grid topic's aeg-sas-key
    # Where bring-your-own-storage recordings are written (an Azurite connection string with an account key).
    storage_connection_string: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        try:
            key = base64.b64decode(self.access_key, validate=True)
        except binascii.Error as error:
            raise ValueError("access_key must be base64") from error
        if not key:
            raise ValueError("access_key must not be empty")
        if self.time_scale < 0:
            raise ValueError("time_scale must not be negative")
