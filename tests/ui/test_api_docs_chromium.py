"""/api/docs in a real headless Chromium: the reference renders from the files the package ships, under its
Content-Security-Policy, with no request leaving the service (the service may run without internet)."""

from __future__ import annotations

from playwright.sync_api import Browser, Request, expect

from tests.integration.compliance_world import World
from tests.ui.browsing import shot

# Redoc's "API docs by Redocly" logo comes from its CDN: the page's CSP blocks it, and Redoc then hides it.
ATTRIBUTION = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def test_the_reference_renders_from_the_package_alone(browser: Browser, world: World) -> None:
    base = str(world.client.base_url).rstrip("/")
    page = browser.new_page()
    outside: list[str] = []
    problems: list[str] = []

    def went_out(request: Request) -> None:
        if not request.url.startswith((base, "data:", "blob:")):
            outside.append(request.url)

    def failed(request: Request) -> None:
        if request.failure != "csp" or request.url != ATTRIBUTION:
            problems.append(f"{request.url}: {request.failure}")

    page.on("requestfinished", went_out)
    page.on("requestfailed", failed)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" and ATTRIBUTION not in m.text else None,
    )
    page.goto(f"{base}/api/docs")
    expect(page.locator("h1").first).to_contain_text("recorder")
    expect(page.get_by_text("The consent ledger, stable order, cursor pages").first).to_be_visible()
    expect(page.get_by_text("Ask for a call to be recorded once everyone consents").first).to_be_attached()
    shot(page, "api-docs")
    assert outside == []
    assert problems == []
    page.close()
