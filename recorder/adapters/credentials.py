"""Where the ACS credential comes from: a key (env, Key Vault secret) or Managed Identity."""

from __future__ import annotations

from azure.core.credentials import TokenCredential
from azure.identity import DefaultAzureCredential

from recorder.config import Settings


def access_key_and_credential(settings: Settings) -> tuple[str | None, TokenCredential | None]:
    if settings.acs_access_key:
        return settings.acs_access_key, None
    credential = DefaultAzureCredential()
    if settings.acs_access_key_secret_uri:
        return _key_from_vault(settings.acs_access_key_secret_uri, credential), None
    return None, credential


def _key_from_vault(secret_uri: str, credential: TokenCredential) -> str:
    from azure.keyvault.secrets import KeyVaultSecretIdentifier, SecretClient

    identifier = KeyVaultSecretIdentifier(secret_uri)
    client = SecretClient(identifier.vault_url, credential)
    secret = client.get_secret(identifier.name, identifier.version)
    if not secret.value:
        raise ValueError(f"RECORDER_ACS_ACCESS_KEY_SECRET_URI: secret {identifier.name} is empty")
    return secret.value
