"""A stand-in for the service's webhooks: records what the ACS emulator delivers and checks callback JWTs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

EVENTGRID_SECRET = "test-eventgrid-secret"


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    events: list[dict[str, Any]]
    claims: dict[str, Any] | None = None
    jwt_error: str | None = None


@dataclass
class Receiver:
    """Accepts Event Grid deliveries at ``/eventgrid`` and callbacks at ``/callbacks/<anything>``."""

    audience: str
    # kid -> (key, the issuer its tokens must name), for every emulator this receiver trusts.
    trusted: dict[str, tuple[jwt.PyJWK, str]] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    # Path -> how many more deliveries to that path are answered with the status (503 unless said).
    failures: dict[str, int] = field(default_factory=dict)
    failure_status: int = 503
    validations: list[dict[str, Any]] = field(default_factory=list)  # Event Grid handshakes seen
    answer_validation: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/eventgrid", self._eventgrid, methods=["POST"]),
                Route("/callbacks/{name:path}", self._callback, methods=["POST"]),
            ]
        )

    async def _eventgrid(self, request: Request) -> Response:
        if request.query_params.get("secret") != EVENTGRID_SECRET:
            return Response(status_code=401)
        events = await request.json()
        if request.headers.get("aeg-event-type") == "SubscriptionValidation":
            self.validations.append({"headers": dict(request.headers), "events": events})
            if not self.answer_validation:
                return Response(status_code=200)
            return JSONResponse({"validationResponse": events[0]["data"]["validationCode"]})
        failed = self._failure(request.url.path)
        if failed is not None:
            return failed
        self._store(Delivery(request.url.path, dict(request.headers), events))
        return Response(status_code=200)

    def _failure(self, path: str) -> Response | None:
        with self._lock:
            if self.failures.get(path, 0) > 0:
                self.failures[path] -= 1
                return JSONResponse({"error": "try again"}, status_code=self.failure_status)
        return None

    async def _callback(self, request: Request) -> Response:
        path = request.url.path
        failed = self._failure(path)
        if failed is not None:
            return failed
        delivery = Delivery(path, dict(request.headers), await request.json())
        authorization = request.headers.get("authorization", "")
        try:
            delivery.claims = self._verify(authorization.removeprefix("Bearer "))
        except (jwt.PyJWTError, KeyError, LookupError) as error:
            delivery.jwt_error = f"{type(error).__name__}: {error}"
        self._store(delivery)
        return Response(status_code=200)

    def trust(self, jwks: dict[str, Any], issuer: str) -> None:
        for key in jwt.PyJWKSet.from_dict(jwks).keys:
            assert key.key_id is not None
            self.trusted[key.key_id] = (key, issuer)

    def _verify(self, token: str) -> dict[str, Any]:
        key, issuer = self.trusted[jwt.get_unverified_header(token)["kid"]]
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=self.audience,
            issuer=issuer,
            options={"require": ["iss", "aud", "iat", "nbf", "exp"]},
        )
        return claims

    def _store(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def events(
        self, predicate: Callable[[Delivery, dict[str, Any]], bool]
    ) -> list[tuple[Delivery, dict[str, Any]]]:
        with self._lock:
            deliveries = list(self.deliveries)
        return [(d, event) for d in deliveries for event in d.events if predicate(d, event)]

    def wait_for(
        self, predicate: Callable[[Delivery, dict[str, Any]], bool], *, count: int = 1, timeout: float = 5.0
    ) -> list[tuple[Delivery, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.events(predicate)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} matching deliveries, got {len(found)}")
            time.sleep(0.01)

    def callback(
        self, call_connection_id: str, name: str, *, count: int = 1, timeout: float = 5.0
    ) -> dict[str, Any]:
        """The ``count``-th callback ``name`` for a call connection, after checking its JWT was valid."""
        found = self.wait_for(
            lambda d, e: (
                e.get("type") == f"Microsoft.Communication.{name}"
                and e["data"].get("callConnectionId") == call_connection_id
            ),
            count=count,
            timeout=timeout,
        )
        delivery, event = found[count - 1]
        assert delivery.jwt_error is None, delivery.jwt_error
        return event

    def callback_types(self, call_connection_id: str) -> list[str]:
        return [
            e["type"].removeprefix("Microsoft.Communication.")
            for _, e in self.events(
                lambda d, e: e.get("data", {}).get("callConnectionId") == call_connection_id
            )
        ]
