"""The console's exposure against the truth: a late joiner on the real stack (service and strict emulator as
separate processes, the real ACS SDK), the call opened in Chromium. The emulator's own timeline measures how
long it recorded the newcomer before they agreed; the console's one red interval must say the same, within
1 ms, from nothing but what ACS reported to the service (event times of the participant list and of the
recording state changes)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.acs_control import STRICT, recording_state, wait_for
from tests.e2e.stack import Stack, start_stack
from tests.ui.browsing import shot


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir: Path = tmp_path_factory.mktemp("console-e2e")
    yield from start_stack(f"sqlite:///{workdir / 'recorder.db'}", workdir, emulator_args=STRICT)


def test_the_late_joiners_red_interval_is_what_the_emulator_recorded_of_them(
    browser: Browser, stack: Stack
) -> None:
    base = uuid.uuid4().int % 10**6
    a, b = f"4:+1425{base:06d}1", f"4:+1425{base:06d}2"
    server_call_id = stack.place_call(
        [
            {"raw_id": a, "answers": ["1"], "leave_at_ms": 7000},
            {"raw_id": b, "answers": ["1"], "join_at_ms": 2500, "leave_at_ms": 7000},
        ]
    )
    wait_for(lambda: recording_state(stack, server_call_id) == "active", what="recording")
    truth = stack.wait_until_ended(server_call_id)
    measured = truth["unconsented_recorded_ms"]
    assert measured[a] == 0 and measured[b] > 0, measured  # the newcomer was heard before the pause
    connection = truth["call_connection_id"]
    auth = {"Authorization": f"Bearer {stack.auditor_key}"}
    api = httpx.get(f"{stack.service_url}/api/calls/{connection}", headers=auth, timeout=10).json()
    assert abs(api["exposure"]["participants"][b] - measured[b]) <= 1, (api["exposure"], measured)
    assert api["exposure"]["participants"][a] == 0

    page = browser.new_page()
    page.goto(f"{stack.service_url}/console/login")
    page.fill("input[name=key]", stack.auditor_key)
    page.click("button[type=submit]")
    page.goto(f"{stack.service_url}/console/calls/{connection}")
    red = page.locator("svg#timeline rect.exposure")
    expect(red).to_have_count(1)
    shown = float(red.get_attribute("data-ms") or "nan")
    print(f"\nlate joiner: emulator {measured[b]} ms, console {shown} ms")
    assert abs(shown - measured[b]) <= 1, (shown, measured[b])
    expect(page.locator("#exposure-total")).to_contain_text(f"{round(shown)} ms")
    shot(page, "call-late-joiner-emulator")
    page.close()
