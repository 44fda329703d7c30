"""Settings of the local ACS Call Automation emulator."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, field

from recorder.emulator.behaviour import Behaviour


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator authenticates requests and signs the callbacks it sends.

    ``access_key`` is the base64 HMAC key the SDK signs with. ``resource_id`` is the ``aud`` of callback JWTs
    and ``issuer`` their ``iss`` ("" means the emulator's own base URL). ``eventgrid_webhook_url`` (with its
    ``?secret=...``) receives the Event Grid IncomingCall deliveries; ``None`` sends none. ``time_scale``
    multiplies every scripted delay. ``public_host`` is the host name put in the URLs the emulator advertises.
    ``behaviour`` holds the knobs where ACS is undocumented (strictest plausible defaults).
    ``application_id`` is the application's own ACS identity (``answeredBy``); empty derives one from the
    resource id. ``cognitive_services_endpoints`` are the Azure AI services resources linked to the ACS
    resource (text-to-speech works only through one of them). ``resource_numbers`` are the phone numbers the
    resource owns, besides the ``to`` of every scripted call. ``eventgrid_token_audience`` makes every Event
    Grid delivery carry an Entra-style bearer token for that audience (JWKS at ``/emulator/entra/keys``).
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
    behaviour: Behaviour = field(default_factory=Behaviour)
    application_id: str = ""
    cognitive_services_endpoints: tuple[str, ...] = ()
    resource_numbers: tuple[str, ...] = ()
    eventgrid_token_audience: str | None = None

    @property
    def application_identity(self) -> str:
        if self.application_id:
            return self.application_id
        return f"8:acs:{self.resource_id}_{uuid.uuid5(uuid.NAMESPACE_URL, self.resource_id)}"

    def owns(self, raw_id: str) -> bool:
        """Whether ``raw_id`` is an identity or number of this ACS resource (IncomingCall goes there)."""
        return raw_id.startswith(f"8:acs:{self.resource_id}_") or raw_id in self.resource_numbers

    def __post_init__(self) -> None:
        try:
            key = base64.b64decode(self.access_key, validate=True)
        except binascii.Error as error:
            raise ValueError("access_key must be base64") from error
        if not key:
            raise ValueError("access_key must not be empty")
        if self.time_scale < 0:
            raise ValueError("time_scale must not be negative")
