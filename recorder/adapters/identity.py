"""The ACS identity port over the official ``azure-communication-identity`` SDK (the only place it is used).

The SDK signs with the same HMAC scheme as Call Automation and keeps an ``http://`` endpoint as written, so a
key works against the loopback emulator; a token credential (Managed Identity) needs https. Version 1.5.0
hands ``expires_on`` back as the service's ISO 8601 text, which is parsed here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from azure.communication.identity import (
    CommunicationIdentityClient,
    CommunicationTokenScope,
    CommunicationUserIdentifier,
)
from azure.core.credentials import TokenCredential

from recorder.adapters.acs import call_acs
from recorder.adapters.credentials import acs_client
from recorder.services.ports import AcsError
from recorder.services.tokens.ports import AccessToken


def build_identity_client(
    endpoint: str, access_key: str | None, credential: TokenCredential | None
) -> CommunicationIdentityClient:
    return acs_client(CommunicationIdentityClient, endpoint, access_key, credential)


class AcsIdentities:
    def __init__(self, client: CommunicationIdentityClient) -> None:
        self._client = client

    def create_identity(self) -> str:
        user = call_acs(self._client.create_user)
        return str(user.raw_id)

    def issue_voip_token(self, identity: str, lifetime: timedelta) -> AccessToken:
        issued = call_acs(
            lambda: self._client.get_token(
                _user(identity), [CommunicationTokenScope.VOIP], token_expires_in=lifetime
            )
        )
        return AccessToken(str(issued.token), parse_expiry(issued.expires_on))

    def revoke_tokens(self, identity: str) -> None:
        call_acs(lambda: self._client.revoke_tokens(_user(identity)))

    def delete_identity(self, identity: str) -> None:
        call_acs(lambda: self._client.delete_user(_user(identity)))


def _user(identity: str) -> CommunicationUserIdentifier:
    return CommunicationUserIdentifier(identity, raw_id=identity)


def parse_expiry(value: object) -> datetime:
    """``expiresOn`` as the SDK returns it: ISO 8601 text (1.5.0), a datetime, or epoch seconds."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float):
        parsed = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise AcsError(f"ACS sent an unreadable token expiry: {value!r}", transient=False) from None
    else:
        raise AcsError("ACS sent no token expiry", transient=False)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
