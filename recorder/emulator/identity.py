"""The ACS Identity REST operations the ``azure-communication-identity`` SDK uses, api-version 2023-10-01.

``POST /identities`` (201 ``{identity: {id}, accessToken?}``),
``POST /identities/{id}/:issueAccessToken`` (200 ``{token, expiresOn}``),
``POST /identities/{id}/:revokeAccessTokens`` (204) and ``DELETE /identities/{id}`` (204).
Requests reach these handlers only after the HMAC check in ``app.py``. Tokens are RS256 JWTs with an
``exp``, like ACS's, signed with a key of their own (not the callback key). ``POST /emulator/tokens:verify``
plays the part of the calling service a client presents its token to: it says whether the token still works.
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recorder.emulator.engine import Emulator
from recorder.emulator.rest import AcsError, AcsRequest, Reply

IDENTITY = "/identities/(?P<identity>[^/]+)"
SCOPES = frozenset({"chat", "voip", "chat.join", "chat.join.limited", "voip.join"})
MIN_MINUTES, MAX_MINUTES, DEFAULT_MINUTES = 60, 1440, 1440


@dataclass
class IdentityRecord:
    created_at: float
    tokens: dict[str, float] = field(default_factory=dict)  # jti -> exp (epoch seconds)
    revoked: set[str] = field(default_factory=set)
    revocations: int = 0


def _validation_error(message: str) -> AcsError:
    return AcsError(400, "ValidationError", message)


class IdentityOperations:
    def __init__(self, emulator: Emulator) -> None:
        self.resource_id = emulator.config.resource_id
        self.issuer = emulator.issuer
        self.identities: dict[str, IdentityRecord] = {}
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = f"identity-{uuid.uuid4().hex[:8]}"

    # ACS REST ---------------------------------------------------------------------------------------

    def create_identity(self, request: AcsRequest) -> Reply:
        scopes = self._scopes(request.body.get("createTokenWithScopes"), required=False)
        minutes = self._minutes(request.body.get("expiresInMinutes"))
        identity = f"8:acs:{self.resource_id}_{uuid.uuid4()}"
        self.identities[identity] = IdentityRecord(created_at=time.time())
        request.record.target = identity
        body: dict[str, Any] = {"identity": {"id": identity}}
        if scopes:
            body["accessToken"] = self._issue(identity, scopes, minutes)
        return Reply(201, body)

    def issue_access_token(self, request: AcsRequest) -> Reply:
        identity = self._known(request)
        scopes = self._scopes(request.body.get("scopes"), required=True)
        return Reply(200, self._issue(identity, scopes, self._minutes(request.body.get("expiresInMinutes"))))

    def revoke_access_tokens(self, request: AcsRequest) -> Reply:
        record = self.identities[self._known(request)]
        record.revoked.update(record.tokens)
        record.revocations += 1
        return Reply(204)

    def delete_identity(self, request: AcsRequest) -> Reply:
        del self.identities[self._known(request)]
        return Reply(204)

    # What a calling client would find out by presenting its token ----------------------------------

    def verify(self, token: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(
                token, self._key.public_key(), algorithms=["RS256"], audience=self.resource_id
            )
        except jwt.ExpiredSignatureError:
            return {"valid": False, "reason": "expired"}
        except jwt.PyJWTError as error:
            return {"valid": False, "reason": f"invalid: {type(error).__name__}"}
        identity = f"8:{claims['skypeid']}"
        record = self.identities.get(identity)
        if record is None:
            return {"valid": False, "reason": "identity deleted", "identity": identity}
        if claims["jti"] in record.revoked:
            return {"valid": False, "reason": "revoked", "identity": identity}
        return {"valid": True, "identity": identity, "scopes": claims["scp"].split(), "exp": claims["exp"]}

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "identity": identity,
                "tokens_issued": len(record.tokens),
                "tokens_revoked": len(record.revoked),
                "revocations": record.revocations,
            }
            for identity, record in self.identities.items()
        ]

    # ------------------------------------------------------------------------------------------------

    def _known(self, request: AcsRequest) -> str:
        identity = request.params["identity"]
        request.record.target = identity
        if identity not in self.identities:
            raise AcsError(404, "IdentityNotFound", f"Identity {identity} was not found.")
        return identity

    def _issue(self, identity: str, scopes: list[str], minutes: int) -> dict[str, Any]:
        now = time.time()
        expires = now + minutes * 60
        jti = str(uuid.uuid4())
        claims = {
            "skypeid": identity.removeprefix("8:"),
            "scp": " ".join(scopes),
            "acsScope": ",".join(scopes),
            "resourceId": self.resource_id,
            "aud": self.resource_id,
            "iss": self.issuer,
            "iat": int(now),
            "exp": int(expires),
            "jti": jti,
        }
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})
        self.identities[identity].tokens[jti] = expires
        # ACS writes seven fractional digits, which clients must cope with.
        expires_on = datetime.fromtimestamp(int(expires), UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00")
        return {"token": token, "expiresOn": expires_on}

    @staticmethod
    def _scopes(value: object, *, required: bool) -> list[str]:
        if value is None and not required:
            return []
        if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
            raise _validation_error("scopes must be a non-empty list of scope names.")
        unknown = sorted(set(value) - SCOPES)
        if unknown:
            raise _validation_error(f"Unknown scopes: {', '.join(unknown)}.")
        return list(value)

    @staticmethod
    def _minutes(value: object) -> int:
        if value is None:
            return DEFAULT_MINUTES
        if not isinstance(value, int) or isinstance(value, bool) or not MIN_MINUTES <= value <= MAX_MINUTES:
            raise _validation_error(
                f"expiresInMinutes must be a whole number from {MIN_MINUTES} to {MAX_MINUTES}."
            )
        return value


_operations: weakref.WeakKeyDictionary[Emulator, IdentityOperations] = weakref.WeakKeyDictionary()


def identity_operations(emulator: Emulator) -> IdentityOperations:
    """One identity registry per emulator, shared by the REST table and the control route."""
    if emulator not in _operations:
        _operations[emulator] = IdentityOperations(emulator)
    return _operations[emulator]


def identity_acs_table(emulator: Emulator) -> list[tuple[str, str, str, Callable[[AcsRequest], Reply]]]:
    """Rows for the ACS route table in ``app.py``: (method, path pattern, operation, handler)."""
    ops = identity_operations(emulator)
    return [
        ("POST", "/identities", "create_identity", ops.create_identity),
        ("POST", IDENTITY + "/:issueAccessToken", "issue_access_token", ops.issue_access_token),
        ("POST", IDENTITY + "/:revokeAccessTokens", "revoke_access_tokens", ops.revoke_access_tokens),
        ("DELETE", IDENTITY, "delete_identity", ops.delete_identity),
    ]


def identity_control_routes(emulator: Emulator) -> list[Route]:
    ops = identity_operations(emulator)

    async def verify(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            message = 'send {"token": "<access token>"}'
            return JSONResponse({"error": {"code": "BadRequest", "message": message}}, status_code=400)
        return JSONResponse(ops.verify(token))

    async def identities(request: Request) -> Response:
        return JSONResponse(ops.describe())

    return [
        Route("/emulator/tokens:verify", verify, methods=["POST"]),
        Route("/emulator/identities", identities, methods=["GET"]),
    ]
