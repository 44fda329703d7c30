"""What an officer who knows only a number and a day does, in a real Chromium: find the call whatever way the
number is typed, filter the calls, read the call's story and its exposure, print the evidence, and see
tampering where it happened. Screenshots of every page go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from recorder.config.settings import Settings
from recorder.db.tables.audit import AuditEntry
from recorder.db.tables.calls import Call
from recorder.domain import events as ev
from tests.audit_tampering import write_raw_data
from tests.integration.compliance_world import A, World, make_world, record_call
from tests.integration.test_exposure_db import late_joiner
from tests.ui.browsing import shot, sign_in
from tests.unit.test_consent import POLICY

UK = "4:+442071234567"
ZONE = "Asia/Tokyo"  # far from UTC: a day picked in the browser is not a UTC day


@pytest.fixture
def officer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The compliance world (conn-1 A+B agreed and recorded, conn-2 C declined) plus conn-3, a London caller
    who agreed, and conn-4, a late joiner B' recorded 65 ms (by ACS's times) before the pause."""
    from recorder.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    for world in make_world(url, Settings(database_url=url, policy=POLICY, default_region="GB")):
        container = world.container
        record_call(container, 3, (UK,), "one", recorded=True)
        t0 = datetime.now(UTC) - timedelta(seconds=10)
        call_id = late_joiner(container.calls, container.dispatcher, t0, n=4, b="4:+14255550199")
        container.calls.apply(call_id, "end-4", "CallDisconnected", ev.CallDisconnected(datetime.now(UTC)))
        with container.unit_of_work() as uow:  # what the service's sealer does every 100 ms
            uow.audit.seal_pending()
            uow.commit()
        yield world


def open_console(browser: Browser, world: World, width: int = 1280) -> Page:
    context = browser.new_context(timezone_id=ZONE, viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, world, "auditor")
    expect(page.locator("h1")).to_have_text("Consent ledger")
    page.goto(f"{world.client.base_url}/console/calls?tz={ZONE}")  # the console remembers the zone chosen
    return page


def calls_shown(page: Page, world: World, **params: str) -> list[str]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    page.goto(f"{world.client.base_url}/console/calls?{query}")
    return page.locator("#calls tbody tr td:nth-child(3) a").all_inner_texts()


@pytest.mark.parametrize(
    "typed",
    [
        "+442071234567",
        "442071234567",
        "+44 20 7123 4567",
        "44-20-7123-4567",
        "020 7123 4567",
        UK,
        "7123 4567",
    ],
)
def test_the_calls_view_finds_the_call_by_each_way_of_typing_the_number(
    browser: Browser, officer: World, typed: str
) -> None:
    page = open_console(browser, officer)
    page.goto(f"{officer.client.base_url}/console/calls")
    page.fill("input[name=participant]", typed)
    page.click("form.filters button[type=submit]")
    expect(page.locator("#calls tbody tr")).to_have_count(1)
    expect(page.locator("#calls tbody")).to_contain_text("conn-3")
    page.context.close()


def test_the_api_and_the_ledger_read_numbers_as_typed_and_refuse_what_is_not_one(
    browser: Browser, officer: World
) -> None:
    auth = officer.auth("auditor")
    for query in (
        "participant=4:+442071234567",
        "participant=+442071234567",
        "participant=020%207123%204567",
    ):
        found = officer.client.get(
            f"/api/calls?{query}", headers=auth
        )  # "+" unencoded: it arrives as a space
        assert [c["call_connection_id"] for c in found.json()["items"]] == ["conn-3"], query
        ledger = officer.client.get(f"/api/consents?{query}", headers=auth).json()["items"]
        assert [(e["participant"], e["outcome"]) for e in ledger] == [(UK, "granted")], query
    for path in ("/api/calls", "/api/consents", "/api/consents/export"):
        refused = officer.client.get(path, params={"participant": "bob"}, headers=auth)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_query"
    page = open_console(browser, officer)
    page.goto(f"{officer.client.base_url}/console/ledger")
    page.fill("input[name=participant]", "020 7123 4567")
    page.click("form.filters button[type=submit]")
    expect(page.locator("#ledger tbody tr")).to_have_count(1)
    expect(page.locator("#ledger tbody")).to_contain_text(UK)
    page.goto(f"{officer.client.base_url}/console/calls?participant=bob")
    expect(page.locator("[role=alert]")).to_contain_text("participant")
    page.context.close()


def test_the_calls_view_filters_pages_and_shows_the_officers_time_zone(
    browser: Browser, officer: World
) -> None:
    response = officer.client.post(
        "/api/calls/conn-1/legal-hold", json={"reason": "litigation"}, headers=officer.auth("operator")
    )
    assert response.status_code == 201
    page = open_console(browser, officer)
    page.goto(f"{officer.client.base_url}/console/calls")
    expect(page.locator("#zone")).to_contain_text(ZONE)
    expect(page.locator("input[name=tz]")).to_have_value(ZONE)
    expect(page.locator("#total")).to_contain_text("4 calls")
    shot(page, "calls")
    assert calls_shown(page, officer, outcome="declined") == ["conn-2"]
    assert calls_shown(page, officer, recorded="no") == ["conn-2"]
    assert sorted(calls_shown(page, officer, recorded="yes")) == ["conn-1", "conn-3", "conn-4"]
    assert calls_shown(page, officer, hold="yes") == ["conn-1"]
    assert calls_shown(page, officer, exposed="yes") == ["conn-4"]
    assert calls_shown(page, officer, participant="0101", outcome="granted") == ["conn-4", "conn-1"]
    today = datetime.now(ZoneInfo(ZONE)).date()
    assert len(calls_shown(page, officer, **{"from": today.isoformat(), "to": today.isoformat()})) == 4
    yesterday = (today - timedelta(days=1)).isoformat()
    assert calls_shown(page, officer, to=yesterday) == []
    expect(page.locator("#calls tbody")).to_contain_text("No calls match")
    page.goto(f"{officer.client.base_url}/console/calls")
    page.fill("input[name=from]", today.isoformat())
    page.check("input[name=exposed]")
    page.click("form.filters button[type=submit]")
    expect(page.locator("#calls tbody tr")).to_have_count(1)
    expect(page.locator("#calls tbody .exposed")).to_have_text("65 ms")
    page.context.close()


def test_the_late_joiner_timeline_has_one_red_interval_and_the_story_tells_it(
    browser: Browser, officer: World
) -> None:
    page = open_console(browser, officer)
    page.goto(f"{officer.client.base_url}/console/calls/conn-4")
    red = page.locator("svg#timeline rect.exposure")
    expect(red).to_have_count(1)
    assert float(red.get_attribute("data-ms") or "nan") == pytest.approx(65, abs=0.05)
    expect(page.locator("svg#timeline")).to_contain_text("65 ms")
    expect(page.locator("#exposure-total")).to_contain_text("65 ms")
    story = page.locator("#story")
    expect(story).to_contain_text("4:+14255550199 joined the call")
    expect(story).to_contain_text("recorded without consent for 65 ms")
    expect(story).to_contain_text("“Press 1 to agree, 2 to decline.”")  # the prompt's own text
    shot(page, "call")
    page.goto(f"{officer.client.base_url}/console/calls/conn-1")
    expect(page.locator("svg#timeline rect.exposure")).to_have_count(0)
    expect(page.locator("#tamper-warning")).to_have_count(0)
    page.context.close()


def test_the_printable_evidence_carries_the_call_id_and_every_answer(
    browser: Browser, officer: World
) -> None:
    page = open_console(browser, officer)
    page.goto(f"{officer.client.base_url}/console/calls/conn-4")
    page.click("#evidence-print")
    expect(page).to_have_title("evidence-conn-4")
    expect(page.locator("#call-id")).to_have_text("conn-4")
    answers = page.locator("#answers tbody tr")
    expect(answers).to_have_count(2)
    for who in (A, "4:+14255550199"):
        expect(answers.filter(has_text=who).locator(".answer")).to_contain_text("granted")
    expect(page.locator("#answers")).to_contain_text("consent v3 en-US")
    expect(page.locator("#chain-verdict")).to_contain_text("verifies")
    shot(page, "evidence")
    page.emulate_media(media="print")
    expect(page.locator("header")).to_be_hidden()
    page.context.close()


def test_a_tampered_entry_shows_on_its_calls_page_evidence_and_the_audit_page(
    browser: Browser, officer: World
) -> None:
    page = open_console(browser, officer)
    page.goto(f"{officer.client.base_url}/console/audit")  # seals every pending entry
    expect(page.locator("#verdict")).to_contain_text("Intact")
    with officer.container.sessions() as session:
        call_id = session.scalar(select(Call.id).where(Call.call_connection_id == "conn-3"))
        seq = session.scalars(select(AuditEntry.seq).where(AuditEntry.call_id == call_id)).first()
    assert seq is not None
    write_raw_data(officer.container.settings.database_url, seq, '{"edited": true}')
    page.goto(f"{officer.client.base_url}/console/calls/conn-3")
    expect(page.locator("#tamper-warning")).to_contain_text(f"{seq}")
    expect(page.locator("#audit")).to_contain_text("NO: changed")
    page.goto(f"{officer.client.base_url}/console/calls/conn-3/evidence/print")
    expect(page.locator("#tamper-warning")).to_be_visible()
    page.goto(f"{officer.client.base_url}/console/calls/conn-1")
    expect(page.locator("#tamper-warning")).to_have_count(0)
    page.goto(f"{officer.client.base_url}/console/audit")
    expect(page.locator("#verdict")).to_contain_text(f"BROKEN at seq {seq}")
    expect(page.locator("text=Last good hash")).to_be_visible()
    expect(page.locator("#broken-entry")).to_contain_text("What to do")
    page.click("#broken-call")
    expect(page.locator("h1")).to_contain_text("conn-3")
    page.context.close()


@pytest.mark.parametrize("path", ["/console/ledger", "/console/calls", "/console/calls/conn-4"])
def test_on_a_narrow_screen_tables_scroll_in_their_box_and_the_timeline_fits(
    browser: Browser, officer: World, path: str
) -> None:
    page = open_console(browser, officer, width=390)
    page.goto(f"{officer.client.base_url}{path}")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{path} is {overflow}px wider than the screen"
    if path.endswith("conn-4"):
        box = page.locator("svg#timeline").bounding_box()
        assert box is not None and box["width"] <= 390
    shot(page, "narrow-" + path.strip("/").replace("/", "-"))
    page.context.close()
