"""The compliance API in process on real SQLite and PostgreSQL: roles, search, export, evidence, holds,
erasure, keys, OpenAPI."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.routing import Route

from recorder.db.tables.audit import AuditEntry, AuditPending
from recorder.db.tables.calls import ConsentEntry
from recorder.services.queries import ledger as queries
from recorder.web.api import openapi
from tests.integration.compliance_world import A, B, C, World, make_world

HOLD = "/api/calls/conn-1/legal-hold"
# (method, path, body); which role may call what is tests/security/test_role_matrix.py's one table
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/consents", None),
    ("GET", "/api/consents/export", None),
    ("GET", "/api/calls", None),
    ("GET", "/api/calls/conn-1", None),
    ("GET", "/api/calls/conn-1/evidence", None),
    ("GET", "/api/audit/verify", None),
    ("POST", HOLD, {"reason": "litigation 42"}),
    ("DELETE", HOLD, {"reason": "settled"}),
    ("POST", "/api/erasures", {"participant": "4:+19995550000"}),
    ("GET", "/api/keys", None),
    ("POST", "/api/keys", {"role": "auditor", "name": "made by test"}),
    ("DELETE", "/api/keys/no-such-key", None),
]


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from make_world(database_url)


def call(world: World, method: str, path: str, body: dict[str, Any] | None, role: str | None) -> Any:
    return world.client.request(method, path, json=body, headers=world.auth(role))


def test_no_key_a_wrong_key_and_an_expired_key_are_401(world: World) -> None:
    for method, path, body in ENDPOINTS:
        for headers in ({}, {"Authorization": "Bearer rk_nope"}, world.auth("expired")):
            response = world.client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.json()["error"]["code"] == "unauthorized"


def test_reads_and_refusals_are_audited(world: World) -> None:
    world.get("/api/consents", participant=A)
    call(world, "GET", "/api/keys", None, "auditor")
    with world.container.sessions() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(2)).all()
    assert [r.action for r in rows] == ["api.denied", "api.consents.read"]
    assert rows[0].data == {"role": "auditor", "method": "GET", "path": "/api/keys"}


def test_calls_are_found_by_time_participant_outcome_and_recording(world: World) -> None:
    def ids(**params: str) -> list[str]:
        response = world.client.get("/api/calls", params=params, headers=world.auth("auditor"))
        assert response.status_code == 200, response.text
        return [c["call_connection_id"] for c in response.json()["items"]]

    assert ids() == ["conn-1", "conn-2"]
    assert ids(participant=B) == ["conn-1"]
    assert ids(outcome="declined") == ["conn-2"]
    assert ids(recorded="true") == ["conn-1"]
    assert ids(recorded="false") == ["conn-2"]
    assert ids(since="2999-01-01T00:00:00Z") == []
    first = world.client.get("/api/calls", params={"limit": "1"}, headers=world.auth("auditor")).json()
    second = world.client.get(
        "/api/calls", params={"limit": "1", "cursor": first["next"]}, headers=world.auth("auditor")
    ).json()
    assert [first["items"][0]["call_connection_id"], second["items"][0]["call_connection_id"]] == [
        "conn-1",
        "conn-2",
    ]
    assert second["next"] is None
    for bad in ({"recorded": "maybe"}, {"since": "yesterday"}, {"cursor": "xyz"}, {"colour": "red"}):
        response = world.client.get("/api/calls", params=bad, headers=world.auth("auditor"))
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_query"


def test_the_export_streams_the_filtered_ledger_as_csv_and_jsonl(world: World) -> None:
    response = world.client.get("/api/consents/export", headers=world.auth("auditor"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted((r["participant"], r["outcome"]) for r in rows) == [
        (A, "granted"),
        (B, "granted"),
        (C, "declined"),
    ]
    assert list(rows[0]) == [*queries.LEDGER_FIELDS, "exposure_ms"]
    response = world.client.get(
        "/api/consents/export",
        params={"format": "jsonl", "outcome": "declined"},
        headers=world.auth("auditor"),
    )
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [(e["participant"], e["outcome"]) for e in lines] == [(C, "declined")]
    bad = world.client.get("/api/consents/export", params={"format": "xml"}, headers=world.auth("auditor"))
    assert bad.status_code == 400


def test_the_evidence_bundle_lets_an_auditor_recheck_every_entry(world: World) -> None:
    bundle = world.client.get("/api/calls/conn-1/evidence", headers=world.auth("auditor")).json()
    assert {(e["participant"], e["outcome"]) for e in bundle["ledger"]} == {(A, "granted"), (B, "granted")}
    (prompt,) = bundle["prompts"]
    assert prompt["text"] and len(prompt["sha256"]) == 64
    assert [s["kind"] for s in bundle["recording_segments"]] == ["started"]
    assert bundle["audit_entries"] and all(e["hash_matches"] for e in bundle["audit_entries"])
    import hashlib

    for entry in bundle["audit_entries"]:
        recomputed = hashlib.sha256((entry["prev_hash"] + entry["canonical"]).encode()).hexdigest()
        assert recomputed == entry["hash"]
    assert world.client.get("/api/calls/nope/evidence", headers=world.auth("auditor")).status_code == 404


def test_a_legal_hold_blocks_erasure_until_it_is_released(world: World) -> None:
    placed = call(world, "POST", HOLD, {"reason": "litigation 42"}, "operator")
    assert placed.status_code == 201
    with world.container.sessions() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
    assert (entry.action, entry.data["reason"]) == ("legal_hold.placed", "litigation 42")
    assert entry.data["blob"] == placed.json()["blob_hold"] == "unsupported"  # no recordings storage here
    assert call(world, "POST", HOLD, {"reason": "again"}, "operator").status_code == 409
    refused = call(world, "POST", "/api/erasures", {"participant": A}, "operator")
    assert refused.status_code == 409
    assert refused.json()["error"] | {"calls": ["conn-1"]} == refused.json()["error"]
    assert world.get("/api/consents", participant=A).json()["items"]
    assert call(world, "DELETE", HOLD, {"reason": "settled"}, "admin").status_code == 200
    assert call(world, "DELETE", HOLD, None, "admin").status_code == 409
    assert call(world, "POST", "/api/calls/nope/legal-hold", {"reason": "x"}, "admin").status_code == 404
    assert call(world, "POST", HOLD, {"reason": ""}, "admin").status_code == 400


def test_erasure_removes_the_identity_and_the_chain_still_verifies(world: World) -> None:
    world.get("/api/consents", participant=A)  # an audited read whose query names A
    erased = call(world, "POST", "/api/erasures", {"participant": A}, "admin")
    assert erased.status_code == 200, erased.text
    result = erased.json()
    assert result["ledger_rows"] == 1 and result["audit_entries"] >= 2
    verify = world.get("/api/audit/verify").json()
    assert verify["ok"] is True and verify["first_bad"] is None
    with world.container.sessions() as session:
        everything = json.dumps([r.data for r in session.scalars(select(AuditEntry))])
        ledger = session.scalars(select(ConsentEntry.participant)).all()
    assert A not in everything and "4%3A%2B14255550101" not in everything
    assert A not in ledger and result["pseudonym"] in ledger and B in ledger
    assert call(world, "POST", "/api/erasures", {}, "admin").status_code == 400
    assert call(world, "POST", "/api/erasures", None, "admin").status_code == 400


def audit_actions(world: World) -> list[str]:
    """Every audit entry's action, chained or still pending."""
    with world.container.sessions() as session:
        chained = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
        return [*chained, *session.scalars(select(AuditPending.action).order_by(AuditPending.id))]


def test_erasing_a_number_never_seen_is_refused_unless_an_admin_forces_it(world: World) -> None:
    unseen = "4:+19995550000"
    before = audit_actions(world)
    refused = call(world, "POST", "/api/erasures", {"participant": unseen}, "admin")
    assert refused.status_code == 404
    error = refused.json()["error"]
    assert error["code"] == "unknown_participant"
    assert "holds no data" in error["message"] and '"force": true' in error["message"]
    not_allowed = call(world, "POST", "/api/erasures", {"participant": unseen, "force": True}, "operator")
    assert not_allowed.status_code == 403
    assert not_allowed.json()["error"]["code"] == "force_requires_admin"
    not_a_flag = call(world, "POST", "/api/erasures", {"participant": unseen, "force": "yes"}, "admin")
    assert not_a_flag.status_code == 400
    assert "participant.erased" not in audit_actions(world)
    assert len(audit_actions(world)) == len(before)
    forced = call(world, "POST", "/api/erasures", {"participant": unseen, "force": True}, "admin")
    assert forced.status_code == 200, forced.text
    assert forced.json()["forced"] is True and forced.json()["audit_entries"] == 0
    with world.container.sessions() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
    assert (entry.action, entry.data["forced"]) == ("participant.erased", True)
    assert world.get("/api/audit/verify").json()["ok"] is True


def test_admins_create_list_and_revoke_keys(world: World) -> None:
    created = call(
        world, "POST", "/api/keys", {"role": "auditor", "name": "temp", "expires_in_days": 7}, "admin"
    )
    assert created.status_code == 201
    new_key, key_id = created.json()["key"], created.json()["id"]
    listed = world.get("/api/keys", role="admin").json()["items"]
    assert {k["id"]: k["state"] for k in listed}[key_id] == "active"
    assert new_key not in json.dumps(listed)
    headers = {"Authorization": f"Bearer {new_key}"}
    assert world.client.get("/api/consents", headers=headers).status_code == 200
    assert call(world, "DELETE", f"/api/keys/{key_id}", None, "admin").status_code == 200
    assert world.client.get("/api/consents", headers=headers).status_code == 401
    assert call(world, "POST", "/api/keys", {"role": "god", "name": "x"}, "admin").status_code == 400


def test_the_openapi_document_lists_every_route_and_nothing_else(world: World) -> None:
    document = world.client.get("/api/openapi.json").json()
    app_routes = {
        (method.lower(), route.path)
        for route in world.app.routes
        if isinstance(route, Route) and route.path.startswith(openapi.DOCUMENTED_PREFIXES)
        for method in (route.methods or {"GET"})
        if method != "HEAD"
    }
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert documented == app_routes
    assert set(openapi.OPERATIONS) <= app_routes  # no detailed entry for a route that is gone
    mine = {(m.lower(), p) for m, p, _ in ENDPOINTS}
    templated = {
        (m, p.replace("conn-1", "{call_connection_id}").replace("no-such-key", "{key_id}")) for m, p in mine
    }
    assert templated <= set(openapi.OPERATIONS)
