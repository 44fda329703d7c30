"""ACS user access tokens for the call center's agents: one ACS identity per application user id, reused.

A token is handed to the caller and forgotten: it is never stored, logged or audited. What is kept is the
mapping (asking API key, user id) -> ACS identity, so two applications asking for the same user id get two
identities, and an audit entry per issuance (who asked, for which identity, until when) and per revocation.
Issuing a token exempts nobody from consent: an admin registers agents (``services/calls/agents.py``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from recorder.services.errors import Conflict, Invalid, NotFound, ServiceError, UpstreamFailed
from recorder.services.ports import AcsError
from recorder.services.tokens.ports import IdentityProvider
from recorder.services.tokens.records import TokensUnitOfWork

log = logging.getLogger("recorder.tokens")
T = TypeVar("T")

USER_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+=:-]{0,127}")
IDENTITY_PATTERN = re.compile(r"8:(acs|spool|dod-acs|gcch-acs):[A-Za-z0-9._-]{1,200}")


@dataclass(frozen=True)
class IssuedToken:
    token: str = field(repr=False)
    expires_on: datetime
    identity: str


def check_user_id(value: object) -> str:
    if not isinstance(value, str) or not USER_ID_PATTERN.fullmatch(value):
        raise Invalid(
            "invalid_user_id",
            "user_id must be a string of 1 to 128 letters, digits or . _ @ + = : - (starting with a letter or"
            " digit)",
        )
    return value


def check_identity(value: object) -> str:
    if not isinstance(value, str) or not IDENTITY_PATTERN.fullmatch(value):
        raise Invalid("invalid_identity", "identity must be an ACS user raw id such as 8:acs:<id>")
    return value


class TokenService:
    def __init__(
        self,
        unit_of_work: Callable[[], TokensUnitOfWork],
        provider: IdentityProvider,
        lifetime_minutes: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._uow = unit_of_work
        self._provider = provider
        self._lifetime = timedelta(minutes=lifetime_minutes)
        self._clock = clock

    def issue(self, user_id: str, actor: str) -> IssuedToken:
        """Create or reuse the ACS identity of ``user_id`` in ``actor``'s namespace (``key:<id>``, the API key
        that asks) and issue it a VoIP token; audited, never stored."""
        user_id = check_user_id(user_id)
        identity, created = self._identity_for(actor, user_id)
        granted = _acs(lambda: self._provider.issue_voip_token(identity, self._lifetime))
        now = self._clock()
        with self._uow() as uow:
            uow.identities.mark_issued(actor, user_id, now)
            uow.audit.append(
                actor,
                "tokens.issued",
                None,
                {
                    "identity": identity,
                    "identity_created": created,
                    "scopes": ["voip"],
                    "expires_on": granted.expires_on.isoformat(),
                },
                now,
            )
            uow.commit()
        log.info(
            "tokens.issued",
            extra={"identity": identity, "expires_on": granted.expires_on.isoformat(), "actor": actor},
        )
        return IssuedToken(granted.token, granted.expires_on, identity)

    def revoke(self, identity: str, actor: str) -> None:
        """Revoke every token of one of this service's identities, through ACS; audited."""
        identity = check_identity(identity)
        with self._uow() as uow:
            known = uow.identities.user_for(identity) is not None
        if not known:
            raise NotFound("unknown_identity", "this service issued no tokens for that identity")
        _acs(lambda: self._provider.revoke_tokens(identity), not_found=NotFound)
        now = self._clock()
        with self._uow() as uow:
            uow.audit.append(actor, "tokens.revoked", None, {"identity": identity}, now)
            uow.commit()
        log.info("tokens.revoked", extra={"identity": identity, "actor": actor})

    def _identity_for(self, owner: str, user_id: str) -> tuple[str, bool]:
        """The user's identity, creating it on first use. Concurrent first requests each create one in
        ACS, but the unique (owner, user id) lets only one mapping in; the others delete theirs and use it."""
        with self._uow() as uow:
            existing = uow.identities.identity_for(owner, user_id)
        if existing is not None:
            return existing, False
        candidate = _acs(self._provider.create_identity)
        with self._uow() as uow:
            inserted = uow.identities.add_if_absent(owner, user_id, candidate, self._clock())
            winner = uow.identities.identity_for(owner, user_id)
            uow.commit()
        if winner is None:  # impossible after an insert-or-ignore, unless the row was deleted meanwhile
            raise Conflict("identity_conflict", "the user's identity changed meanwhile; try again")
        if not inserted:
            self._discard(candidate)
            return winner, False
        log.info("tokens.identity_created", extra={"identity": candidate})
        return winner, True

    def _discard(self, identity: str) -> None:
        try:
            self._provider.delete_identity(identity)
        except AcsError as exc:  # an unused identity with no tokens: harmless if it stays
            log.warning("tokens.orphan_identity", extra={"identity": identity, "error": str(exc)})


def _acs(operation: Callable[[], T], *, not_found: type[ServiceError] = UpstreamFailed) -> T:
    try:
        return operation()
    except AcsError as exc:
        if exc.status == 404:
            raise not_found("unknown_identity", "ACS does not know that identity") from None
        raise UpstreamFailed("acs_unavailable", f"ACS could not do it: {exc}") from None
