"""Transport: https-only URLs (loopback aside), proxy headers only from trusted proxies, security headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from recorder.config.security import SecuritySettings
from recorder.config.settings import ConfigError, load_settings
from recorder.web.security import API_CSP, CONSOLE_CSP, HSTS, forwarded_allow_ips
from tests.security.jwks import Jwks, jwks_server
from tests.security.world import World, make_world, settings_for

BASE = {
    "RECORDER_ACS_ENDPOINT": "https://contoso.communication.azure.com",
    "RECORDER_PUBLIC_URL": "https://recorder.contoso.com",
    "RECORDER_ACS_RESOURCE_ID": "resource",
    "RECORDER_EVENTGRID_SECRET": "0123456789abcdef0123",
}


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    with jwks_server() as server:
        yield server


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RECORDER_PUBLIC_URL", "http://recorder.contoso.com"),
        ("RECORDER_PUBLIC_URL", "http://10.0.0.5:8080"),
        ("RECORDER_PUBLIC_URL", "ftp://recorder.contoso.com"),
        ("RECORDER_PUBLIC_URL", "recorder.contoso.com"),
        ("RECORDER_ACS_ENDPOINT", "http://contoso.communication.azure.com"),
        ("RECORDER_ACS_ENDPOINT", "http://127.0.0.1.nip.io:8799"),
        ("RECORDER_ACS_CALLBACK_JWKS_URL", "http://acscallautomation.communication.azure.com/calling/keys"),
        ("RECORDER_EVENTS_TOPIC_ENDPOINT", "http://topic.westeurope-1.eventgrid.azure.net/api/events"),
    ],
)
def test_plain_http_to_a_non_loopback_host_stops_start_up(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({**BASE, name: value}, for_serving=True)
    assert any(problem.startswith(f"{name}:") and "https://" in problem for problem in refused.value.problems)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.0.0.2"])
def test_plain_http_is_allowed_for_loopback(host: str) -> None:
    url = f"http://{host}:8799"
    settings = load_settings(
        {**BASE, "RECORDER_ACS_ENDPOINT": url, "RECORDER_PUBLIC_URL": url}, for_serving=True
    )
    assert settings.public_url == url


def test_trusted_proxies_are_parsed_and_bad_entries_listed() -> None:
    env = {**BASE, "RECORDER_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7 ,::1"}
    settings = load_settings(env, for_serving=True)
    assert settings.security.trusted_proxies == ("10.0.0.0/8", "192.0.2.7/32", "::1/128")
    assert forwarded_allow_ips(settings) == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["10.0.0.0/8", "192.0.2.7/32", "::1/128"],
    }
    assert forwarded_allow_ips(load_settings(BASE, for_serving=True)) == {"proxy_headers": False}
    with pytest.raises(ConfigError) as refused:
        load_settings({**BASE, "RECORDER_TRUSTED_PROXIES": "10.0.0.0/8,*,proxy.local"}, for_serving=True)
    assert len([p for p in refused.value.problems if p.startswith("RECORDER_TRUSTED_PROXIES")]) == 2


def _proxied_world(database_url: str, jwks: Jwks, client: str) -> World:
    settings = settings_for(database_url, jwks, SecuritySettings(trusted_proxies=("10.0.0.0/8",)))
    trusted = forwarded_allow_ips(settings)["forwarded_allow_ips"]
    return make_world(
        database_url,
        jwks,
        security=settings.security,
        client=(client, 40000),
        wrap=lambda app: ProxyHeadersMiddleware(app, trusted_hosts=trusted),
    )


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


def test_forwarded_https_from_a_trusted_proxy_turns_on_hsts(database_url: str, jwks: Jwks) -> None:
    world = _proxied_world(database_url, jwks, "10.1.2.3")
    try:
        assert (
            world.request("GET", "/healthz", headers=FORWARDED).headers["strict-transport-security"] == HSTS
        )
        assert "strict-transport-security" not in world.request("GET", "/healthz").headers
    finally:
        world.close()


def test_forwarded_headers_from_anyone_else_are_ignored(database_url: str, jwks: Jwks) -> None:
    world = _proxied_world(database_url, jwks, "198.51.100.4")
    try:
        response = world.request("GET", "/healthz", headers=FORWARDED)
        assert "strict-transport-security" not in response.headers
    finally:
        world.close()


def test_security_headers_on_api_console_and_errors(database_url: str, jwks: Jwks) -> None:
    world = make_world(database_url, jwks, base_url="https://recorder.example.org")
    try:
        for path, csp in [
            ("/healthz", API_CSP),
            ("/api/consents", API_CSP),  # a 401
            ("/nowhere", API_CSP),  # a 404
            ("/console/login", CONSOLE_CSP),
        ]:
            headers = world.request("GET", path).headers
            assert headers["x-content-type-options"] == "nosniff", path
            assert headers["x-frame-options"] == "DENY", path
            assert headers["referrer-policy"] == "no-referrer", path
            assert headers["content-security-policy"] == csp, path
            assert "frame-ancestors 'none'" in csp and "script-src" not in csp
            assert headers["strict-transport-security"] == HSTS, path  # served over https
        assert world.request("GET", "/api/consents").headers["cache-control"] == "no-store"
        assert world.request("POST", "/webhooks/eventgrid").headers["cache-control"] == "no-store"
    finally:
        world.close()


def test_no_hsts_over_plain_http(database_url: str, jwks: Jwks) -> None:
    world = make_world(database_url, jwks)
    try:
        assert "strict-transport-security" not in world.request("GET", "/healthz").headers
    finally:
        world.close()
