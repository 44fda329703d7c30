"""Fixtures shared by the security tests: a local JWKS endpoint per module, and the service in-process on
each backend (tests that need another world define their own ``world``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.jwks import Jwks, jwks_server
from tests.security.world import World, make_world


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    with jwks_server() as server:
        yield server


@pytest.fixture
def world(database_url: str, jwks: Jwks) -> Iterator[World]:
    w = make_world(database_url, jwks)
    yield w
    w.close()
