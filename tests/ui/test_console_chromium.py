"""The console in a real headless Chromium (Debian's /usr/bin/chromium): sign in with an API key, search the
ledger, open a call, verify the chain, download an export. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.integration.compliance_world import A, C, World, make_world

CHROMIUM = os.environ.get("RECORDER_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    from recorder.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    yield from make_world(url)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def sign_in(page: Page, world: World, role: str) -> None:
    page.goto(f"{world.client.base_url}/console/ledger")
    expect(page).to_have_url(f"{world.client.base_url}/console/login")
    page.fill("input[name=key]", world.keys[role])
    page.click("button[type=submit]")


def test_an_auditor_searches_opens_a_call_verifies_and_exports(browser: Browser, world: World) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    sign_in(page, world, "auditor")
    expect(page.locator("h1")).to_have_text("Consent ledger")
    cookie = next(c for c in context.cookies() if c["name"] == "recorder_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    expect(page.locator("#ledger tbody tr")).to_have_count(3)
    shot(page, "ledger")

    page.fill("input[name=participant]", C)
    page.click("form.filters button[type=submit]")
    expect(page.locator("#ledger tbody tr")).to_have_count(1)
    expect(page.locator("#ledger tbody")).to_contain_text("declined")

    page.fill("input[name=participant]", A)
    page.click("form.filters button[type=submit]")
    page.click("#ledger tbody a")
    expect(page.locator("h1")).to_contain_text("conn-1")
    expect(page.locator("#segments")).to_contain_text("started")
    expect(page.locator("#participants")).to_contain_text(A)
    shot(page, "call")

    page.click("text=Audit chain")
    expect(page.locator("#verdict")).to_contain_text("Intact")
    shot(page, "audit")

    page.goto(f"{world.client.base_url}/console/ledger")
    with page.expect_download() as download_info:
        page.click("#export-csv")
    path = download_info.value.path()
    lines = Path(path).read_text().splitlines()
    assert lines[0].startswith("id,call_connection_id") and len(lines) == 4

    page.click("text=Sign out")
    expect(page).to_have_url(f"{world.client.base_url}/console/login")
    page.goto(f"{world.client.base_url}/console/audit")
    expect(page).to_have_url(f"{world.client.base_url}/console/login")
    context.close()


def test_bad_keys_service_keys_and_forged_forms_are_turned_away(browser: Browser, world: World) -> None:
    page = browser.new_page()
    page.goto(f"{world.client.base_url}/console/login")
    page.fill("input[name=key]", "rk_not_a_key")
    page.click("button[type=submit]")
    expect(page.locator("[role=alert]")).to_contain_text("not valid")
    shot(page, "login-refused")
    sign_in(page, world, "service")
    expect(page.locator("[role=alert]")).to_contain_text("cannot use the console")
    page.close()
    # a cross-site form post has neither the CSRF cookie nor the token: refused, no session cookie set
    response = world.client.post(
        "/console/login", data={"key": world.keys["auditor"], "csrf": "guess"}, follow_redirects=False
    )
    assert response.status_code == 403 and "recorder_console=" not in response.headers.get("set-cookie", "")
