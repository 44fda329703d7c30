"""Who may call which API route: the one table the routes, the OpenAPI document and the README follow.

The roles are ACS's RBAC roles (contract.md): ``admin`` = Owner, everything; ``operator`` = Contributor,
manages calls (recording requests, outbound calls, access grants, legal holds, erasure, token revocation)
and reads everything an auditor reads, but no key management, no consent exemptions, no forced erasure;
``auditor`` = Reader, reads; ``service`` = User, the data plane: its own recording requests and calls,
agent tokens.
A route missing from this table cannot be built (``allowed`` raises), so none is left unguarded by mistake.
"""

from __future__ import annotations

from recorder.services.tokens.api_keys import Role

ADMIN = frozenset({Role.ADMIN})
MANAGE = frozenset({Role.ADMIN, Role.OPERATOR})
READ = frozenset({Role.ADMIN, Role.OPERATOR, Role.AUDITOR})
DATA_PLANE = frozenset({Role.ADMIN, Role.OPERATOR, Role.SERVICE})
READ_REQUESTS = frozenset(Role)
TOKENS = frozenset({Role.ADMIN, Role.SERVICE})

CALL = "/api/calls/{call_connection_id}"
ROUTE_ROLES: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/api/consents"): READ,
    ("GET", "/api/consents/export"): READ,
    ("GET", "/api/calls"): READ,
    ("GET", CALL): READ,
    ("GET", f"{CALL}/evidence"): READ,
    ("GET", "/api/audit/verify"): READ,
    ("GET", "/api/exemptions"): READ,
    ("POST", f"{CALL}/legal-hold"): MANAGE,
    ("DELETE", f"{CALL}/legal-hold"): MANAGE,
    ("POST", f"{CALL}/grants"): MANAGE,
    ("DELETE", f"{CALL}/grants/{{key_id}}"): MANAGE,
    ("POST", "/api/erasures"): MANAGE,
    ("POST", "/api/tokens/revoke"): MANAGE,
    ("GET", "/api/keys"): ADMIN,
    ("POST", "/api/keys"): ADMIN,
    ("DELETE", "/api/keys/{key_id}"): ADMIN,
    ("POST", "/api/exemptions"): ADMIN,
    ("DELETE", "/api/exemptions/{identity}"): ADMIN,
    ("POST", "/api/recordings"): DATA_PLANE,
    ("GET", "/api/recordings/{request_id}"): READ_REQUESTS,
    ("DELETE", "/api/recordings/{request_id}"): DATA_PLANE,
    ("POST", "/api/calls"): DATA_PLANE,
    ("POST", "/api/tokens"): TOKENS,
}


def allowed(method: str, path: str) -> frozenset[Role]:
    """The roles that may call ``method path`` (a route template); KeyError for a route not in the table."""
    return ROUTE_ROLES[(method, path)]


def describe(roles: frozenset[Role]) -> str:
    return ", ".join(role.value for role in Role if role in roles)
