"""The ``[audit]`` and ``[auth.entra]`` tables: chain-head anchoring and Entra ID bearer tokens."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from recorder.config.fields import Bounded, SecureUrl, Table, problem

ROLES = ("admin", "operator", "auditor", "service")
DEFAULT_ENTRA_ROLES = {
    "Recorder.Admin": "admin",
    "Recorder.Operator": "operator",
    "Recorder.Auditor": "auditor",
    "Recorder.Service": "service",
}


def _container(value: Any) -> Any:
    if not isinstance(value, str) or not 3 <= len(value) <= 63:
        raise problem("expected a container name of 3 to 63 characters")
    return value


def _roles(value: Any) -> Any:
    if not isinstance(value, dict) or not all(isinstance(v, str) and v in ROLES for v in value.values()):
        raise problem(f"expected app role = one of {', '.join(ROLES)}")
    return value


def _text(value: str) -> str:
    if not value:
        raise problem("required when [auth.entra] is present")
    return value


class AuditSettings(Table):
    anchor_account_url: Annotated[str, SecureUrl(echo=False)] | None = Field(
        None, description="Blob account the audit chain's head is anchored in (Managed Identity)"
    )
    anchor_container: Annotated[str, BeforeValidator(_container)] = Field(
        "audit-anchors", description="container of the anchors"
    )
    anchor_connection_string: str | None = Field(
        None, repr=False, description="instead of anchor_account_url: Azurite / local development only"
    )
    anchor_interval_seconds: Annotated[int, Bounded(1, 86400)] = Field(
        300, description="how often the chain head is anchored"
    )

    @property
    def anchoring(self) -> bool:
        return bool(self.anchor_account_url or self.anchor_connection_string)


class EntraSettings(Table):
    """Entra ID access tokens accepted on the compliance API, besides API keys."""

    issuer: Annotated[str, AfterValidator(_text)] = Field(description="the tokens' iss")
    audience: Annotated[str, AfterValidator(_text)] = Field(
        description="the tokens' aud, e.g. api://recorder"
    )
    jwks_url: Annotated[str, AfterValidator(_text), SecureUrl(echo=False)] = Field(
        description="where the signing keys are fetched"
    )
    roles: Annotated[dict[str, str], BeforeValidator(_roles)] = Field(
        default_factory=lambda: dict(DEFAULT_ENTRA_ROLES),
        description=f"app role → one of {', '.join(ROLES)}",
    )


class AuthTable(Table):
    entra: EntraSettings | None = Field(None, description="optional: Entra ID tokens on the compliance API")
