"""The emulator's callback tokens: reused within their lifetime, as a real issuer's are, and renewed before
they expire."""

from __future__ import annotations

import time

import jwt
import pytest

from recorder.emulator.signing import REUSE_MARGIN_S, TOKEN_LIFETIME_S, CallbackSigner

ISSUER, AUDIENCE = "https://acscallautomation.communication.azure.com", "resource-id"


@pytest.fixture(scope="module")
def signer() -> CallbackSigner:
    return CallbackSigner()


def test_a_token_serves_callbacks_until_shortly_before_it_expires(
    signer: CallbackSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = time.time()
    monkeypatch.setattr(time, "time", lambda: start)
    first = signer.reusable_token(issuer=ISSUER, audience=AUDIENCE)
    monkeypatch.setattr(time, "time", lambda: start + TOKEN_LIFETIME_S - REUSE_MARGIN_S - 2)
    assert signer.reusable_token(issuer=ISSUER, audience=AUDIENCE) == first
    monkeypatch.setattr(time, "time", lambda: start + TOKEN_LIFETIME_S - REUSE_MARGIN_S + 1)
    renewed = signer.reusable_token(issuer=ISSUER, audience=AUDIENCE)
    assert renewed != first
    claims = jwt.decode(renewed, options={"verify_signature": False})
    assert claims["exp"] - (start + TOKEN_LIFETIME_S - REUSE_MARGIN_S + 1) >= TOKEN_LIFETIME_S - 1


def test_each_audience_has_its_own_token(signer: CallbackSigner) -> None:
    one = signer.reusable_token(issuer=ISSUER, audience="one")
    other = signer.reusable_token(issuer=ISSUER, audience="other")
    assert jwt.decode(one, options={"verify_signature": False})["aud"] == "one"
    assert jwt.decode(other, options={"verify_signature": False})["aud"] == "other"
