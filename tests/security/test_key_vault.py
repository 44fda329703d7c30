"""The ACS access key read from Key Vault by the real azure-keyvault-secrets client, over HTTPS, with the
bearer challenge, against a local stand-in (tests/security/key_vault_standin.py)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator

import pytest

from recorder.adapters.credentials import SecretUnavailable, access_key_and_credential, key_from_vault
from recorder.config.settings import Settings, load_settings
from tests.security.key_vault_standin import StaticToken, Vault, key_vault

ACS_KEY = base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vault]:
    with key_vault(tmp_path_factory.mktemp("vault")) as running:
        running.secrets["acs-access-key"] = ACS_KEY
        running.secrets["empty"] = ""
        yield running


def options(vault: Vault) -> dict[str, object]:
    # The stand-in is at 127.0.0.1, not under vault.azure.net: the client's challenge-domain check is for
    # the real service; the rest (https only, the 401 challenge, a token for the challenge's scope) is real.
    return {"connection_verify": str(vault.certificate), "verify_challenge_resource": False}


def test_the_access_key_is_read_from_the_secret_uri_at_start_up(vault: Vault) -> None:
    credential = StaticToken(vault.token)
    settings = Settings(acs_access_key_secret_uri=vault.uri("acs-access-key"))
    key, token_credential = access_key_and_credential(settings, lambda: credential, **options(vault))
    assert key == ACS_KEY
    assert token_credential is None  # HMAC with the key from then on
    assert credential.scopes == [("https://vault.azure.net/.default",)]
    authorizations = [auth for path, auth in vault.requests if path == "/secrets/acs-access-key/v1"]
    assert authorizations[0] is None  # the challenge round
    assert authorizations[-1] == f"Bearer {vault.token}"


def test_the_secret_uri_is_a_setting_and_no_key_is_assumed(vault: Vault) -> None:
    env = {"RECORDER_ACS_ACCESS_KEY_SECRET_URI": vault.uri("acs-access-key")}
    settings = load_settings(env, for_serving=False)
    assert settings.acs_access_key_secret_uri == vault.uri("acs-access-key")
    assert settings.acs_access_key is None


def test_a_missing_secret_stops_start_up_naming_the_setting_not_the_value(vault: Vault) -> None:
    with pytest.raises(SecretUnavailable, match=r"RECORDER_ACS_ACCESS_KEY_SECRET_URI.*ResourceNotFoundError"):
        key_from_vault(vault.uri("nope"), StaticToken(vault.token), **options(vault))


def test_an_empty_secret_is_refused(vault: Vault) -> None:
    with pytest.raises(SecretUnavailable, match="is empty"):
        key_from_vault(vault.uri("empty"), StaticToken(vault.token), **options(vault))


def test_a_wrong_token_is_refused_and_never_reaches_the_message(vault: Vault) -> None:
    with pytest.raises(SecretUnavailable) as refused:
        key_from_vault(vault.uri("acs-access-key"), StaticToken("stolen"), **options(vault))
    assert "stolen" not in str(refused.value) and ACS_KEY not in str(refused.value)


def test_an_untrusted_certificate_is_refused(vault: Vault) -> None:
    with pytest.raises(SecretUnavailable, match="ServiceRequestError"):
        key_from_vault(vault.uri("acs-access-key"), StaticToken(vault.token), verify_challenge_resource=False)


def test_a_plain_http_vault_is_refused_before_any_token_is_sent(vault: Vault) -> None:
    credential = StaticToken(vault.token)
    plain = vault.uri("acs-access-key").replace("https://", "http://")
    with pytest.raises(SecretUnavailable):
        key_from_vault(plain, credential, **options(vault))
    assert credential.scopes == []


def test_not_a_secret_uri_is_a_clear_error() -> None:
    with pytest.raises(SecretUnavailable, match="not a Key Vault secret URI"):
        key_from_vault("https://example.org/", StaticToken("t"))


def test_without_key_or_secret_uri_managed_identity_is_used() -> None:
    credential = StaticToken("mi")
    key, token_credential = access_key_and_credential(Settings(), lambda: credential)
    assert key is None and token_credential is credential


def test_a_configured_key_wins_and_no_credential_is_made() -> None:
    def refuse() -> StaticToken:
        raise AssertionError("no Managed Identity when a key is configured")

    assert access_key_and_credential(Settings(acs_access_key=ACS_KEY), refuse) == (ACS_KEY, None)
