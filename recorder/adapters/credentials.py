"""Where the ACS credential comes from: a key (env, Key Vault secret) or Managed Identity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from azure.core.credentials import AzureKeyCredential, TokenCredential
from azure.core.exceptions import AzureError
from azure.identity import DefaultAzureCredential

from recorder.config.settings import Settings

Client = TypeVar("Client")


class SecretUnavailable(Exception):
    """The Key Vault secret could not be read; the message names the setting and never holds the value."""


def access_key_and_credential(
    settings: Settings,
    credential_factory: Callable[[], TokenCredential] = DefaultAzureCredential,
    **vault_options: Any,
) -> tuple[str | None, TokenCredential | None]:
    """``vault_options`` go to the Key Vault ``SecretClient`` (tests pass ``connection_verify``)."""
    if settings.acs_access_key:
        return settings.acs_access_key, None
    credential = credential_factory()
    if settings.acs_access_key_secret_uri:
        return key_from_vault(settings.acs_access_key_secret_uri, credential, **vault_options), None
    return None, credential


def key_from_vault(secret_uri: str, credential: TokenCredential, **vault_options: Any) -> str:
    from azure.keyvault.secrets import KeyVaultSecretIdentifier, SecretClient

    try:
        identifier = KeyVaultSecretIdentifier(secret_uri)
    except ValueError as exc:
        problem = f"RECORDER_ACS_ACCESS_KEY_SECRET_URI: not a Key Vault secret URI: {exc}"
        raise SecretUnavailable(problem) from None
    client = SecretClient(identifier.vault_url, credential, **vault_options)
    try:
        secret = client.get_secret(identifier.name, identifier.version)
    except AzureError as exc:
        raise SecretUnavailable(
            f"RECORDER_ACS_ACCESS_KEY_SECRET_URI: cannot read secret {identifier.name}: {type(exc).__name__}"
        ) from None
    finally:
        client.close()
    if not secret.value:
        raise SecretUnavailable(f"RECORDER_ACS_ACCESS_KEY_SECRET_URI: secret {identifier.name} is empty")
    return secret.value


def client_credential(
    access_key: str | None, credential: TokenCredential | None
) -> AzureKeyCredential | TokenCredential:
    """HMAC with a key (works over http for the loopback emulator), else a token credential (https only)."""
    if access_key:
        return AzureKeyCredential(access_key)
    if credential is None:
        raise ValueError("an access key or a token credential is needed")
    return credential


def acs_client(
    client_type: Callable[..., Client],
    endpoint: str,
    access_key: str | None,
    credential: TokenCredential | None,
) -> Client:
    """An ACS SDK client with the credential above and the retries every ACS client here uses."""
    return client_type(
        endpoint, client_credential(access_key, credential), retry_total=3, retry_backoff_factor=0.2
    )
