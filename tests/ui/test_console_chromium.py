"""The console in a real headless Chromium (Debian's /usr/bin/chromium): sign in with an API key, search the
ledger, open a call, verify the chain, download an export. Screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.integration.compliance_world import A, C, World
from tests.ui.browsing import shot, sign_in


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
