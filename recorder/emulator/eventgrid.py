"""The Event Grid side: how IncomingCall and RecordingFileStatusUpdated reach the application's webhook.

As Event Grid documents it: the subscription is validated first (a ``SubscriptionValidationEvent`` that the
endpoint must echo in ``validationResponse``, else nothing is delivered); each event is POSTed on its own, in
no particular order; a failure is retried with backoff for up to 24 h, except 400, 401, 403 and 413, which
are dropped at once; and an event may arrive again after a 200 (``eventgrid_duplicates``). With
``EmulatorConfig.eventgrid_token_audience`` every delivery carries an Entra-style bearer token signed by the
emulator's own "Entra" key (JWKS at ``/emulator/entra/keys``, issuer ``<base>/emulator/entra``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from recorder.emulator.callbacks import Delivery, redact_url
from recorder.emulator.events import EVENTGRID_TOPIC, timestamp
from recorder.emulator.signing import CallbackSigner
from recorder.emulator.state import CallbackAttempt

if TYPE_CHECKING:
    from recorder.emulator.behaviour import Behaviour
    from recorder.emulator.callbacks import CallbackDispatcher

log = logging.getLogger("recorder.emulator")

# Event Grid's documented schedule ("delivery-and-retry": 10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, 3 h,
# 6 h, then every 12 h up to 24 h), scaled by ``eventgrid_first_retry_s / 10``.
RETRY_SCHEDULE_S = (10, 30, 60, 300, 600, 1800, 3600, 10_800, 21_600, 43_200)
NOT_RETRIED = frozenset({400, 401, 403, 413})
EVENTGRID_APP_ID = "4962773b-9cdb-44cf-a8bf-237846a00ab7"  # Microsoft.EventGrid's app id in Entra ID
DUPLICATE_AFTER_S = 0.05
VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent"


@dataclass
class Subscription:
    url: str
    state: str = "unvalidated"  # -> "validated" | "failed"
    validation_code: str = field(default_factory=lambda: str(uuid.uuid4()))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def describe(self) -> dict[str, str]:
        return {"url": redact_url(self.url), "state": self.state}


class EventGridSender:
    def __init__(self, dispatcher: CallbackDispatcher, *, base_url: str, audience: str | None) -> None:
        self._dispatcher = dispatcher
        self._audience = audience
        self.issuer = f"{base_url}/emulator/entra"
        self.entra_key = CallbackSigner()
        self.subscriptions: dict[str, Subscription] = {}

    async def deliver(self, delivery: Delivery, behaviour: Behaviour, delay_s: float = 0.0) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        if behaviour.eventgrid_validation and not await self._validated(delivery.url):
            now = time.monotonic()
            error = "subscription not validated: Event Grid delivers nothing"
            delivery.record(
                CallbackAttempt(now, delivery.event_type, 0, redact_url(delivery.url), None, error, now)
            )
            return
        scale = behaviour.eventgrid_first_retry_s / RETRY_SCHEDULE_S[0]
        for attempt, wait_s in enumerate((*RETRY_SCHEDULE_S, None), start=1):
            status = await self._dispatcher.post(delivery, attempt, self._headers("Notification", attempt))
            if status is not None and 200 <= status < 300:
                await self._duplicates(delivery, behaviour.eventgrid_duplicates, attempt)
                return
            if status in NOT_RETRIED or wait_s is None:
                log.warning("emulator.eventgrid.dropped type=%s status=%s", delivery.event_type, status)
                return
            await asyncio.sleep(wait_s * scale)

    async def _duplicates(self, delivery: Delivery, count: int, attempt: int) -> None:
        again = replace(delivery, note="duplicate after 200 (at-least-once)")
        for extra in range(1, count + 1):
            await asyncio.sleep(DUPLICATE_AFTER_S)
            await self._dispatcher.post(
                again, attempt + extra, self._headers("Notification", attempt + extra)
            )

    async def _validated(self, url: str) -> bool:
        subscription = self.subscriptions.setdefault(url, Subscription(url))
        async with subscription.lock:
            if subscription.state == "unvalidated":
                subscription.state = await self._handshake(subscription)
        return subscription.state == "validated"

    async def _handshake(self, subscription: Subscription) -> str:
        event = validation_event(subscription.validation_code)
        record: list[CallbackAttempt] = []
        delivery = Delivery(subscription.url, [event], VALIDATION_EVENT, record.append, eventgrid=True)
        answer = await self._dispatcher.post_for_json(delivery, 1, self._headers("SubscriptionValidation", 1))
        echoed = isinstance(answer, dict) and answer.get("validationResponse") == subscription.validation_code
        if not echoed:
            log.warning("emulator.eventgrid.validation_failed url=%s", redact_url(subscription.url))
        return "validated" if echoed else "failed"

    def _headers(self, event_type: str, attempt: int) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "aeg-event-type": event_type,
            "aeg-subscription-name": "ACS-EMULATOR-SUBSCRIPTION",
            "aeg-delivery-count": str(attempt - 1),
            "aeg-data-version": "1.0",
            "aeg-metadata-version": "1",
        }
        if self._audience:
            headers["Authorization"] = f"Bearer {self.token()}"
        return headers

    def token(self) -> str:
        assert self._audience is not None
        extra = {
            "appid": EVENTGRID_APP_ID,
            "azp": EVENTGRID_APP_ID,
            "roles": ["AzureEventGridSecureWebhookSubscriber"],
            "tid": "00000000-0000-0000-0000-0000000e0001",
        }
        return self.entra_key.token(issuer=self.issuer, audience=self._audience, lifetime_s=3600, extra=extra)

    def reset(self) -> None:
        self.subscriptions.clear()

    def describe(self) -> list[dict[str, str]]:
        return [subscription.describe() for subscription in self.subscriptions.values()]


def validation_event(code: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "topic": EVENTGRID_TOPIC,
        "subject": "",
        "data": {"validationCode": code},
        "eventType": VALIDATION_EVENT,
        "eventTime": timestamp(),
        "metadataVersion": "1",
        "dataVersion": "2",
    }
