"""Shared by the console's Chromium tests: the browser, an in-process service with calls in it, sign-in,
screenshots into test-artifacts/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.integration.compliance_world import World, make_world
from tests.ui.browsing import ARGS, CHROMIUM


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright_outside_faketime() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
    yield launched
    launched.close()
    playwright.stop()


@contextmanager
def sync_playwright_outside_faketime() -> Iterator[Playwright]:
    """Playwright's driver and Chromium, started without libfaketime. Run a year ahead (.ci/run), only the
    service's calendar needs to move: the pages are drawn on the server, and a browser under libfaketime is
    ten times slower. Whatever else the tests start still runs under it."""
    preload = os.environ.get("LD_PRELOAD", "")
    if "faketime" in preload:
        del os.environ["LD_PRELOAD"]
    try:
        yield sync_playwright().start()
    finally:
        if "faketime" in preload:
            os.environ["LD_PRELOAD"] = preload


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    from recorder.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    yield from make_world(url)
