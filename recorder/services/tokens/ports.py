"""What the token service needs from the outside: ACS identities and their access tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol


@dataclass(frozen=True)
class AccessToken:
    token: str = field(repr=False)
    expires_on: datetime


class IdentityProvider(Protocol):
    """The ACS identity operations this service needs; errors are ``AcsError``."""

    def create_identity(self) -> str:
        """A new ACS identity; returns its raw id (``8:acs:...``)."""
        ...

    def issue_voip_token(self, identity: str, lifetime: timedelta) -> AccessToken: ...

    def revoke_tokens(self, identity: str) -> None: ...

    def delete_identity(self, identity: str) -> None: ...
