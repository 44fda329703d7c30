"""A local Key Vault stand-in over real HTTPS (a self-signed certificate made here), speaking the part of the
secrets REST API that ``SecretClient.get_secret`` uses, including Key Vault's bearer challenge."""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from azure.core.credentials import AccessToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.e2e.stack import free_port

CHALLENGE = (
    'Bearer authorization="https://login.microsoftonline.com/tenant-1", resource="https://vault.azure.net"'
)


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "vault.pem", directory / "vault.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class StaticToken:
    """A TokenCredential that hands out one fixed token and remembers the scopes asked for."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


@dataclass
class Vault:
    url: str
    certificate: Path
    token: str
    secrets: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, authorization)

    def uri(self, name: str, version: str = "v1") -> str:
        return f"{self.url}/secrets/{name}/{version}"


@contextmanager
def key_vault(directory: Path, token: str = "vault-access-token") -> Iterator[Vault]:  # noqa: S107
    cert_path, key_path = self_signed_certificate(directory)
    port = free_port()
    vault = Vault(f"https://127.0.0.1:{port}", cert_path, token)

    async def get_secret(request: Request) -> Response:
        authorization = request.headers.get("authorization")
        vault.requests.append((request.url.path, authorization))
        if authorization != f"Bearer {token}":
            return Response(status_code=401, headers={"WWW-Authenticate": CHALLENGE})
        name, version = request.path_params["name"], request.path_params["version"]
        if name not in vault.secrets:
            error = {"code": "SecretNotFound", "message": f"A secret with (name/id) {name} was not found"}
            return JSONResponse({"error": error}, status_code=404)
        return JSONResponse(
            {
                "value": vault.secrets[name],
                "id": f"{vault.url}/secrets/{name}/{version}",
                "attributes": {"enabled": True, "created": int(time.time()), "updated": int(time.time())},
            }
        )

    app = Starlette(routes=[Route("/secrets/{name}/{version}", get_secret)])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ssl_certfile=cert_path, ssl_keyfile=key_path
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield vault
    finally:
        server.should_exit = True
        thread.join(5)
