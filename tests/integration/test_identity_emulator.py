"""The real azure-communication-identity SDK issues, refreshes and revokes tokens against the emulator."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from azure.communication.identity import (
    CommunicationIdentityClient,
    CommunicationTokenScope,
    CommunicationUserIdentifier,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

from recorder.adapters.identity import AcsIdentities, build_identity_client, parse_expiry
from recorder.emulator import EmulatorConfig, RunningEmulator, start_emulator
from recorder.services.ports import AcsError

RESOURCE_ID = "3f1d2c8e-5a77-4f0e-9a4b-2b1c0d9e8f70"
VOIP = [CommunicationTokenScope.VOIP]


@pytest.fixture(scope="module")
def access_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="module")
def emulator(access_key: str) -> Iterator[RunningEmulator]:
    with start_emulator(EmulatorConfig(access_key=access_key, resource_id=RESOURCE_ID)) as running:
        yield running


@pytest.fixture
def client(emulator: RunningEmulator, access_key: str) -> CommunicationIdentityClient:
    return CommunicationIdentityClient(emulator.url, AzureKeyCredential(access_key), retry_total=0)


def verify(emulator: RunningEmulator, token: str) -> dict[str, Any]:
    response = httpx.post(f"{emulator.url}/emulator/tokens:verify", json={"token": token}, timeout=10)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_the_sdk_creates_an_identity_and_issues_a_voip_jwt_with_the_lifetime_asked_for(
    emulator: RunningEmulator, client: CommunicationIdentityClient
) -> None:
    user = client.create_user()
    assert user.raw_id.startswith(f"8:acs:{RESOURCE_ID}_")
    before = datetime.now(UTC)
    issued = client.get_token(user, VOIP, token_expires_in=timedelta(minutes=60))

    expires_on = parse_expiry(issued.expires_on)
    assert timedelta(minutes=59) < expires_on - before <= timedelta(minutes=60, seconds=5)
    claims = jwt.decode(issued.token, options={"verify_signature": False})
    assert claims["scp"] == "voip"
    assert f"8:{claims['skypeid']}" == user.raw_id
    assert abs(claims["exp"] - expires_on.timestamp()) < 1
    assert verify(emulator, issued.token) == {
        "valid": True,
        "identity": user.raw_id,
        "scopes": ["voip"],
        "exp": claims["exp"],
    }


def test_a_refresh_before_expiry_gives_a_new_token_that_lasts_longer(
    emulator: RunningEmulator, client: CommunicationIdentityClient
) -> None:
    user = client.create_user()
    first = client.get_token(user, VOIP, token_expires_in=timedelta(minutes=60))
    time.sleep(1.1)  # whole-second expiries, as ACS's
    refreshed = client.get_token(user, VOIP, token_expires_in=timedelta(minutes=60))
    assert refreshed.token != first.token
    assert parse_expiry(refreshed.expires_on) > parse_expiry(first.expires_on)
    assert verify(emulator, first.token)["valid"] is True
    assert verify(emulator, refreshed.token)["valid"] is True


def test_revoking_ends_every_earlier_token_and_new_ones_work(
    emulator: RunningEmulator, client: CommunicationIdentityClient
) -> None:
    user = client.create_user()
    earlier = [client.get_token(user, VOIP).token for _ in range(2)]
    bystander = client.create_user()
    untouched = client.get_token(bystander, VOIP).token

    client.revoke_tokens(user)

    assert [verify(emulator, token)["reason"] for token in earlier] == ["revoked", "revoked"]
    assert verify(emulator, untouched)["valid"] is True
    later = client.get_token(user, VOIP).token
    assert verify(emulator, later)["valid"] is True


def test_create_user_and_token_and_delete_user(
    emulator: RunningEmulator, client: CommunicationIdentityClient
) -> None:
    user, token = client.create_user_and_token(VOIP, token_expires_in=timedelta(hours=2))
    assert verify(emulator, token.token)["identity"] == user.raw_id
    client.delete_user(user)
    assert verify(emulator, token.token) == {
        "valid": False,
        "reason": "identity deleted",
        "identity": user.raw_id,
    }
    with pytest.raises(ResourceNotFoundError):
        client.get_token(user, VOIP)


@pytest.mark.parametrize("minutes", [59, 1441])
def test_lifetimes_acs_does_not_allow_are_refused(client: CommunicationIdentityClient, minutes: int) -> None:
    user = client.create_user()
    with pytest.raises(HttpResponseError) as refused:
        client.get_token(user, VOIP, token_expires_in=timedelta(minutes=minutes))
    assert refused.value.status_code == 400


def test_unknown_identities_and_scopes_are_refused(client: CommunicationIdentityClient) -> None:
    stranger = CommunicationUserIdentifier(f"8:acs:{RESOURCE_ID}_nobody")
    with pytest.raises(ResourceNotFoundError):
        client.get_token(stranger, VOIP)
    with pytest.raises(ResourceNotFoundError):
        client.revoke_tokens(stranger)
    with pytest.raises(HttpResponseError) as refused:
        client.get_token(client.create_user(), ["teleport"])
    assert refused.value.status_code == 400


def test_a_wrong_key_or_no_signature_is_refused_by_hmac(emulator: RunningEmulator) -> None:
    wrong = base64.b64encode(secrets.token_bytes(32)).decode()
    with pytest.raises(ClientAuthenticationError):
        CommunicationIdentityClient(emulator.url, AzureKeyCredential(wrong), retry_total=0).create_user()
    unsigned = httpx.post(f"{emulator.url}/identities?api-version=2023-10-01", json={}, timeout=10)
    assert unsigned.status_code == 401
    assert "HMAC" in unsigned.json()["error"]["message"]


def test_the_adapter_issues_refreshes_revokes_and_translates_errors(
    emulator: RunningEmulator, access_key: str
) -> None:
    acs = AcsIdentities(build_identity_client(emulator.url, access_key, None))
    identity = acs.create_identity()
    first = acs.issue_voip_token(identity, timedelta(minutes=60))
    refreshed = acs.issue_voip_token(identity, timedelta(minutes=90))
    assert refreshed.expires_on - first.expires_on > timedelta(minutes=29)
    assert first.expires_on.tzinfo is UTC
    assert first.token not in repr(first)

    acs.revoke_tokens(identity)
    assert verify(emulator, refreshed.token)["reason"] == "revoked"

    acs.delete_identity(identity)
    with pytest.raises(AcsError) as missing:
        acs.revoke_tokens(identity)
    assert missing.value.status == 404
    wrong_key = base64.b64encode(secrets.token_bytes(32)).decode()
    with pytest.raises(AcsError) as refused:
        AcsIdentities(build_identity_client(emulator.url, wrong_key, None)).create_identity()
    assert refused.value.status == 401


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-28T18:08:04.3244584+00:00", datetime(2026, 11, 28, 18, 8, 4, 324458, tzinfo=UTC)),
        ("2026-11-28T18:08:04Z", datetime(2026, 11, 28, 18, 8, 4, tzinfo=UTC)),
        ("2026-11-28T20:08:04+02:00", datetime(2026, 11, 28, 18, 8, 4, tzinfo=UTC)),
        (datetime(2026, 11, 28, 18, 8, 4), datetime(2026, 11, 28, 18, 8, 4, tzinfo=UTC)),
        (1795889284, datetime(2026, 11, 28, 18, 8, 4, tzinfo=UTC)),
    ],
)
def test_expiries_in_every_shape_acs_and_the_sdk_use_are_read_as_utc(raw: object, expected: datetime) -> None:
    assert parse_expiry(raw) == expected


@pytest.mark.parametrize("raw", ["tomorrow", None])
def test_an_unreadable_expiry_is_an_acs_error(raw: object) -> None:
    with pytest.raises(AcsError):
        parse_expiry(raw)
