"""Helpers of the console's Chromium tests: where Chromium is, sign-in, screenshots into test-artifacts/."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.integration.compliance_world import World

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


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def sign_in(page: Page, world: World, role: str) -> None:
    page.goto(f"{world.client.base_url}/console/ledger")
    expect(page).to_have_url(f"{world.client.base_url}/console/login")
    page.fill("input[name=key]", world.keys[role])
    page.click("button[type=submit]")
