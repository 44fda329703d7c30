"""The emulator in a thread, the real Call Automation SDK pointed at it, and a receiver for what it sends."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from azure.communication.callautomation import (
    CallAutomationClient,
    CallConnectionProperties,
    CallParticipant,
    PhoneNumberIdentifier,
)
from azure.core.credentials import AzureKeyCredential

from recorder.emulator import EmulatorConfig, RunningEmulator, start_emulator
from recorder.emulator.server import serve_in_thread
from tests.integration.emulator_helpers import EVENTGRID_SECRET, Receiver

RESOURCE_ID = "6d889502-3d7a-41a8-befa-d21fd80e8767"
ACS_NUMBER = "4:+18005550100"
SPEECH = "https://emulator-speech.cognitiveservices.azure.com/"


@dataclass
class Harness:
    emulator: RunningEmulator
    receiver: Receiver
    receiver_url: str
    access_key: str
    client: CallAutomationClient
    control: httpx.Client

    def callback_url(self, name: str = "calls") -> str:
        return f"{self.receiver_url}/callbacks/{name}"

    def start_call(self, participants: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        caller = participants[0]["raw_id"] if participants else new_phone()
        body = {"from": caller, "to": ACS_NUMBER, "participants": participants, **extra}
        response = self.control.post("/emulator/calls", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def incoming_call(self, server_call_id: str) -> dict[str, Any]:
        _, event = self.receiver.wait_for(
            lambda d, e: e.get("data", {}).get("serverCallId") == server_call_id and d.path == "/eventgrid"
        )[0]
        return event

    def answer(self, participants: list[dict[str, Any]], callback: str = "calls", **extra: Any) -> Connected:
        """Start an inbound call, wait for its IncomingCall and answer it (with text-to-speech enabled)."""
        started = self.start_call(participants, **extra)
        event = self.incoming_call(started["server_call_id"])
        return connected(
            self.client.answer_call(
                event["data"]["incomingCallContext"],
                self.callback_url(callback),
                cognitive_services_endpoint=SPEECH,
            )
        )

    def describe(self, call_id: str) -> dict[str, Any]:
        response = self.control.get(f"/emulator/calls/{quote(call_id, safe='')}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def act(self, call_id: str, **action: Any) -> httpx.Response:
        return self.control.post(f"/emulator/calls/{quote(call_id, safe='')}/actions", json=action)

    def fault(self, **rule: Any) -> None:
        response = self.control.post("/emulator/faults", json=rule)
        assert response.status_code == 201, response.text


@dataclass(frozen=True)
class Connected:
    call_connection_id: str
    server_call_id: str
    properties: CallConnectionProperties


def connected(properties: CallConnectionProperties) -> Connected:
    return Connected(required(properties.call_connection_id), required(properties.server_call_id), properties)


def required(value: str | None) -> str:
    assert value, "the SDK returned no value"
    return value


def raw_ids(participants: Iterable[CallParticipant]) -> list[str | None]:
    return [p.identifier.raw_id if p.identifier is not None else None for p in participants]


def new_phone() -> str:
    return f"4:+1425{secrets.randbelow(10**7):07d}"


def phone(raw_id: str) -> PhoneNumberIdentifier:
    return PhoneNumberIdentifier(raw_id.removeprefix("4:"))


def agent(name: str) -> str:
    """An ACS identity of the emulated resource (one the application could have issued a token for)."""
    return f"8:acs:{RESOURCE_ID}_{name}-{secrets.token_hex(4)}"


@contextmanager
def running_harness(**config: Any) -> Iterator[Harness]:
    """A receiver, an emulator sending to it, an SDK client and a control client; ``config`` adds
    ``EmulatorConfig`` fields (e.g. ``behaviour=``)."""
    access_key = base64.b64encode(os.urandom(32)).decode()
    receiver = Receiver(audience=RESOURCE_ID)
    receiver_server = serve_in_thread(receiver.app())
    receiver_url = f"http://127.0.0.1:{receiver_server.port}"
    settings = {
        "access_key": access_key,
        "resource_id": RESOURCE_ID,
        "eventgrid_webhook_url": f"{receiver_url}/eventgrid?secret={EVENTGRID_SECRET}",
        "cognitive_services_endpoints": (SPEECH,),
        **config,
    }
    emulator = start_emulator(EmulatorConfig(**settings))
    control = httpx.Client(base_url=emulator.url, trust_env=False, timeout=10.0)
    receiver.trust(control.get("/calling/keys").json(), emulator.issuer)
    client = CallAutomationClient(emulator.url, AzureKeyCredential(access_key))
    try:
        yield Harness(emulator, receiver, receiver_url, access_key, client, control)
    finally:
        client.close()
        control.close()
        emulator.stop()
        receiver_server.stop()
