"""Audit rows edited, made unparseable, deleted, reordered or slipped in, each found at the right seq by
`recorder audit verify` and by GET /api/audit/verify on the running service, on SQLite and PostgreSQL;
never a 500 or a traceback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy.exc

from tests import audit_tampering
from tests.e2e.stack import BACKENDS, Stack, stack_on_backend


@pytest.fixture(params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from stack_on_backend(request, tmp_path_factory.mktemp("tamper"))


def api_verify(stack: Stack) -> dict[str, object]:
    response = httpx.get(
        f"{stack.service_url}/api/audit/verify",
        headers={"Authorization": f"Bearer {stack.auditor_key}"},
        timeout=30,
    )
    assert response.status_code == 200
    result: dict[str, object] = response.json()
    return result


def a_chain_with_a_call_and_reads(stack: Stack) -> int:
    server_call_id = stack.place_call([{"raw_id": "4:+14255550901", "answers": ["1"], "leave_at_ms": 1500}])
    stack.wait_until_ended(server_call_id)
    for _ in range(3):
        assert stack.consents(server_call_id=server_call_id)  # audited reads: more entries in the chain
    intact = stack.cli("audit", "verify")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "audit chain intact" in intact.stdout
    before = api_verify(stack)
    assert before["ok"] is True and before["first_bad"] is None
    assert isinstance(before["entries"], int) and before["entries"] >= 6
    return before["entries"]


def assert_broken_at(stack: Stack, seq: int) -> None:
    broken = stack.cli("audit", "verify")
    assert broken.returncode == 1, broken.stdout
    assert f"BROKEN at seq {seq}" in broken.stdout
    result = api_verify(stack)
    assert (result["ok"], result["first_bad"]) == (False, seq)


def test_a_tampered_row_is_found_at_its_seq(stack: Stack) -> None:
    a_chain_with_a_call_and_reads(stack)
    database_url = stack.env["RECORDER_DATABASE_URL"]
    forged = {**audit_tampering.read_data(database_url, 3), "recording": "forged"}
    audit_tampering.rewrite_data(database_url, 3, forged)
    assert_broken_at(stack, 3)


def test_a_deleted_row_is_found_at_its_seq(stack: Stack) -> None:
    a_chain_with_a_call_and_reads(stack)
    audit_tampering.delete_entry(stack.env["RECORDER_DATABASE_URL"], 4)
    assert_broken_at(stack, 4)


def test_a_payload_that_is_no_longer_json_is_found_at_its_seq(stack: Stack) -> None:
    a_chain_with_a_call_and_reads(stack)
    database_url = stack.env["RECORDER_DATABASE_URL"]
    if database_url.startswith("sqlite"):
        audit_tampering.write_raw_data(database_url, 3, '{"recording": "forg')
    else:  # PostgreSQL's json type refuses unparseable text even with the triggers off
        with pytest.raises(sqlalchemy.exc.DataError):
            audit_tampering.write_raw_data(database_url, 3, '{"recording": "forg')
        assert api_verify(stack)["ok"] is True
        audit_tampering.write_raw_data(database_url, 3, '"forged"')  # JSON, but no longer an object
    assert_broken_at(stack, 3)
    assert "Traceback" not in stack.cli("audit", "verify").stderr


def test_reordered_rows_are_found_at_the_first_moved_seq(stack: Stack) -> None:
    a_chain_with_a_call_and_reads(stack)
    audit_tampering.swap_entries(stack.env["RECORDER_DATABASE_URL"], 3, 5)
    assert_broken_at(stack, 3)


def test_an_inserted_row_is_found_where_the_chain_no_longer_links(stack: Stack) -> None:
    a_chain_with_a_call_and_reads(stack)
    audit_tampering.insert_entry(stack.env["RECORDER_DATABASE_URL"], 3)
    assert_broken_at(stack, 4)  # the forged entry links to seq 2; the moved-on original no longer links to it
