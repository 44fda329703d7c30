"""The OpenAPI document against the running service (separate processes, the emulator as ACS): every
operation is called, successes and refusals, and every response is checked against the live document
(tests/api_contract.py). schemathesis then runs the live schema, operation by operation and statefully
along its links (test_schemathesis_runs_clean)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api_contract import Contract
from tests.e2e.stack import Stack, start_stack
from tests.e2e.test_chaos import callback_url, cloud_event

AGREES = "4:+14255550901"


@dataclass
class Api:
    stack: Stack
    contract: Contract
    keys: dict[str, str]
    key_ids: dict[str, str]

    def __call__(self, method: str, path: str, role: str | None = "admin", **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {})}
        if role is not None:
            headers["Authorization"] = f"Bearer {self.keys[role]}"
        with httpx.Client(base_url=self.stack.service_url, timeout=20) as client:
            client.event_hooks = {"response": [self.contract.check]}
            return client.request(method, path, headers=headers, **kwargs)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("e2e-contract")
    yield from start_stack(f"sqlite:///{workdir / 'recorder.db'}", workdir)


@pytest.fixture(scope="module")
def api(stack: Stack) -> Api:
    keys: dict[str, str] = {}
    key_ids: dict[str, str] = {}
    for role in ("admin", "operator", "auditor", "service"):
        created = stack.cli("keys", "create", "--role", role, "--name", f"contract {role}")
        assert created.returncode == 0, created.stderr
        keys[role] = created.stdout.strip().splitlines()[-1]
    document = httpx.get(f"{stack.service_url}/api/openapi.json", timeout=10).json()
    made = Api(stack, Contract(document), keys, key_ids)
    for item in made("GET", "/api/keys").json()["items"]:
        key_ids[item["role"]] = item["id"]
    return made


def ended_call(stack: Stack, api: Api) -> dict[str, Any]:
    """A call whose participant agreed and was recorded, as the ledger shows it."""
    server_call_id = stack.place_call([{"raw_id": AGREES, "answers": ["1"], "leave_at_ms": 2500}])
    stack.wait_until_ended(server_call_id)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = api("GET", "/api/consents", "auditor", params={"server_call_id": server_call_id}).json()[
            "items"
        ]
        if rows:
            return dict(rows[0])
        time.sleep(0.2)
    raise AssertionError("the call's consent never reached the ledger")


def ongoing_call(stack: Stack) -> str:
    body = {
        "from": AGREES,
        "to": "4:+18005550100",
        "participants": [{"raw_id": AGREES, "answers": ["1"], "leave_at_ms": 60_000}],
        "deliver_incoming_call": False,
    }
    response = httpx.post(f"{stack.emulator_url}/emulator/calls", json=body, timeout=10)
    response.raise_for_status()
    return str(response.json()["server_call_id"])


def reads(api: Api, conn: str, server_call_id: str) -> None:
    assert (
        api("GET", "/api/consents", "auditor", params={"server_call_id": server_call_id}).status_code == 200
    )
    page = api("GET", "/api/consents", "auditor", params={"limit": "1"}).json()
    assert page["items"]
    for fmt, media in (("csv", "text/csv"), ("jsonl", "application/x-ndjson")):
        export = api("GET", "/api/consents/export", "auditor", params={"format": fmt})
        assert export.status_code == 200 and export.headers["content-type"].startswith(media)
    found = api("GET", "/api/calls", "auditor", params={"recorded": "true", "participant": AGREES}).json()
    assert conn in [c["call_connection_id"] for c in found["items"]]
    timeline = api("GET", f"/api/calls/{conn}", "auditor").json()
    assert timeline["recording_segments"] and timeline["participants"]
    assert api("GET", f"/api/calls/{conn}/evidence", "auditor").json()["ledger"]
    assert api("GET", "/api/audit/verify", "auditor").json()["ok"] is True


def holds_grants_exemptions(api: Api, conn: str) -> None:
    hold = f"/api/calls/{conn}/legal-hold"
    assert api("POST", hold, "operator", json={"reason": "case 7"}).status_code == 201
    assert api("POST", hold, "operator", json={"reason": "case 7"}).status_code == 409
    assert api("DELETE", hold, "operator", json={"reason": "settled"}).status_code == 200
    assert api("DELETE", hold, "operator").status_code == 409
    grant = api("POST", f"/api/calls/{conn}/grants", "operator", json={"key_id": api.key_ids["service"]})
    assert grant.status_code == 201
    revoke = f"/api/calls/{conn}/grants/{api.key_ids['service']}"
    assert api("DELETE", revoke, "operator").status_code == 200
    assert api("DELETE", revoke, "operator").status_code == 404
    agent = "8:acs:contract_agent"
    assert api("POST", "/api/exemptions", json={"identity": agent, "reason": "agent"}).status_code == 201
    assert agent in [e["identity"] for e in api("GET", "/api/exemptions", "auditor").json()["items"]]
    assert api("DELETE", f"/api/exemptions/{agent}").status_code == 200
    assert api("DELETE", f"/api/exemptions/{agent}").status_code == 404


def keys_tokens_erasure(api: Api) -> None:
    made = api("POST", "/api/keys", json={"role": "auditor", "name": "short-lived", "expires_in_days": 1})
    assert made.status_code == 201
    assert made.json()["id"] in [k["id"] for k in api("GET", "/api/keys").json()["items"]]
    assert api("DELETE", f"/api/keys/{made.json()['id']}").status_code == 200
    assert api("DELETE", "/api/keys/no-such-key").status_code == 404
    token = api("POST", "/api/tokens", "service", json={"user_id": "agent-7"})
    assert token.status_code == 200
    identity = token.json()["identity"]
    assert api("POST", "/api/tokens/revoke", "operator", json={"identity": identity}).status_code == 200
    assert (
        api("POST", "/api/tokens/revoke", "operator", json={"identity": "8:acs:never_issued"}).status_code
        == 404
    )
    nobody = {"participant": "4:+19995550999"}
    assert api("POST", "/api/erasures", "operator", json=nobody).status_code == 404
    assert api("POST", "/api/erasures", json={**nobody, "force": True}).status_code == 200


def recordings(api: Api, stack: Stack) -> None:
    body = {"server_call_id": ongoing_call(stack), "external_reference": "ticket-9"}
    again = {"Idempotency-Key": f"contract-{uuid.uuid4()}"}
    created = api("POST", "/api/recordings", "service", json=body, headers=again)
    assert created.status_code == 202
    assert api("POST", "/api/recordings", "service", json=body, headers=again).status_code == 200
    clash = api("POST", "/api/recordings", "service", json={**body, "region": "eastus"}, headers=again)
    assert clash.status_code == 409
    request_id = created.json()["id"]
    assert api("GET", f"/api/recordings/{request_id}", "service").json()["id"] == request_id
    assert api("DELETE", f"/api/recordings/{request_id}", "service").status_code == 200
    assert api("GET", "/api/recordings/no-such-request", "service").status_code == 404
    placed = api("POST", "/api/calls", "service", json={"target": "8:acs:contract_callee"})
    assert placed.status_code == 202
    known = {"call_connection_id": "conn-that-does-not-exist"}
    assert api("POST", "/api/recordings", "service", json=known).status_code == 404


def refusals(api: Api) -> None:
    assert api("GET", "/api/consents", None).status_code == 401
    assert api("GET", "/api/keys", "auditor").status_code == 403
    assert api("GET", "/api/consents", "auditor", params={"limit": "0"}).status_code == 400
    assert api("GET", "/api/calls", "auditor", params={"nope": "1"}).status_code == 400
    assert api("POST", "/api/keys", json={"role": "god", "name": "x"}).status_code == 400
    assert (
        api("POST", "/api/keys", content=b"{", headers={"Content-Type": "application/json"}).status_code
        == 400
    )
    assert api("POST", "/api/tokens", "service", content=b"x" * 5000).status_code == 413
    assert api("POST", "/api/recordings", "service", json={"bogus": 1}).status_code == 400


def outside_the_api(api: Api, stack: Stack, row: dict[str, Any]) -> None:
    for path in ("/healthz", "/readyz", "/api/openapi.json", "/api/docs", "/api/docs/redoc.standalone.js"):
        assert api("GET", path, None).status_code == 200, path
    assert api("GET", "/api/docs/nothing.js", None).status_code == 404
    assert api("POST", "/webhooks/eventgrid", None, json=[]).status_code == 401
    handshake = [
        {
            "id": str(uuid.uuid4()),
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "subject": "",
            "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "dataVersion": "1",
            "data": {"validationCode": "abc"},
        }
    ]
    secret = {"secret": stack.secret}
    assert api("POST", "/webhooks/eventgrid", None, params=secret, json=handshake).status_code == 200
    origin = {"WebHook-Request-Origin": "eventgrid.azure.net"}
    assert api("OPTIONS", "/webhooks/eventgrid", None, params=secret, headers=origin).status_code == 200
    assert api("POST", "/webhooks/acs/no-such-call", None, json=[]).status_code == 401
    late = cloud_event(
        str(uuid.uuid4()), "PlayCompleted", {"operationContext": "contract"}, row["call_connection_id"]
    )
    signed = {"Authorization": f"Bearer {stack.keys.token(stack.issuer)}"}
    path = httpx.URL(callback_url(stack, row["server_call_id"])).path
    assert api("POST", path, None, json=late, headers=signed).status_code == 200


def test_every_operation_answers_as_its_document_says(stack: Stack, api: Api) -> None:
    row = ended_call(stack, api)
    reads(api, row["call_connection_id"], row["server_call_id"])
    holds_grants_exemptions(api, row["call_connection_id"])
    keys_tokens_erasure(api)
    recordings(api, stack)
    refusals(api)
    outside_the_api(api, stack, row)
    operations = {(m, p) for p, ops in api.contract.document["paths"].items() for m in ops}
    succeeded = {op for op, statuses in api.contract.seen.items() if any(200 <= s < 300 for s in statuses)}
    assert operations - succeeded == set(), "operations never called successfully"


FRAMING = {"content-length", "transfer-encoding", "host", "connection"}


def forget_cursor(case: Any) -> None:
    """A cursor means something only as the service issued it: an invented one is rightly a 400."""
    if case.query:
        case.query.pop("cursor", None)


# What people type for a participant (services/queries/numbers.py): the document cannot say which strings
# are phone numbers, and one that cannot be a number is rightly a 400.
TYPED_PARTICIPANTS = ("4:+14255550101", "+44 20 7123 4567", "1-425-555-0102", "8:acs:unknown-user")


def typed_participant(case: Any) -> None:
    if case.query and "participant" in case.query:
        text = str(case.query["participant"])
        case.query["participant"] = TYPED_PARTICIPANTS[len(text) % len(TYPED_PARTICIPANTS)]


def keep_framing(case: Any) -> None:
    """The HTTP client frames the request: a generated Content-Length is refused by the HTTP server itself
    (uvicorn's plain-text 400) before the application sees it."""
    for name in [n for n in (case.headers or {}) if n.lower() in FRAMING]:
        del case.headers[name]


EXAMPLES = 10  # per operation and generation mode; the stateful run takes five times as many scenarios


def options(examples: int, **more: Any) -> Any:
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        **more,
    )


def run_operation(operation: Any, mode: Any, call: dict[str, Any]) -> tuple[int, str | None]:
    """schemathesis's cases for one operation in one mode, each checked: (cases run, the failure or None)."""
    from hypothesis import given
    from schemathesis import GenerationMode

    count = 0

    @options(EXAMPLES)  # type: ignore[untyped-decorator]
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        nonlocal count
        count += 1
        if mode is GenerationMode.POSITIVE:
            forget_cursor(case)
            typed_participant(case)
        keep_framing(case)
        case.call_and_validate(**call)

    try:
        run()
    except Exception as exc:  # every operation runs; all that failed are reported together
        return count, f"{operation.label} ({mode.value}): {str(exc)[:1500]}"
    return count, None


def run_links(schema: Any, call: dict[str, Any]) -> int:
    """Stateful scenarios along the document's links; returns how many calls they made."""
    steps = 0

    class Links(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Any) -> None:
            forget_cursor(case)
            typed_participant(case)
            keep_framing(case)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            nonlocal steps
            steps += 1
            return call

    Links.run(settings=options(EXAMPLES * 5, stateful_step_count=6))
    return steps


def test_schemathesis_runs_clean(stack: Stack, api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    """schemathesis against the live /api/openapi.json: every API operation with valid and invalid input
    as admin, then stateful scenarios that follow the document's links (create a key, revoke it; ask for a
    recording, read it, stop it; ...). Its checks: no 5xx, statuses, content types, headers and bodies as
    documented, valid input accepted, invalid input refused."""
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.core.result import Ok

    schema = schemathesis.openapi.from_url(f"{stack.service_url}/api/openapi.json").include(
        path_regex="^/api/(?!docs)"
    )
    call = {"base_url": stack.service_url, "headers": {"Authorization": f"Bearer {api.keys['admin']}"}}
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    cases, failures = 0, []
    for operation in operations:
        inputs = [operation.query, operation.path_parameters, operation.headers, operation.body]
        modes = [GenerationMode.POSITIVE, *([GenerationMode.NEGATIVE] if any(map(len, inputs)) else [])]
        for mode in modes:  # an operation without input has no invalid input to send
            count, failure = run_operation(operation, mode, call)
            cases += count
            failures += [failure] if failure else []
    steps = run_links(schema, call)
    with capsys.disabled():
        print(f"\nschemathesis: {len(operations)} operations, {cases} cases, {steps} stateful calls")
    assert failures == []
    assert len(operations) >= 23 and cases >= len(operations) * EXAMPLES and steps > 0


def test_a_client_generated_from_the_document_records_and_reads_back(
    stack: Stack, api: Api, tmp_path: Path
) -> None:
    """What a call-center developer does: generate a Python client from /api/openapi.json
    (openapi-python-client), ask with a service key for an ongoing call to be recorded, and read it back."""
    (tmp_path / "openapi.json").write_bytes(httpx.get(f"{stack.service_url}/api/openapi.json").content)
    bin_dir = Path(sys.executable).parent
    command = ["generate", "--path", str(tmp_path / "openapi.json"), "--meta", "none"]
    generated = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            *command,
            "--output-path",
            str(tmp_path / "recorder_client"),
        ],
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "WARNING" not in generated.stdout, generated.stdout  # every operation made it into the client
    sys.path.insert(0, str(tmp_path))
    try:
        package = importlib.import_module("recorder_client")
        models = importlib.import_module("recorder_client.models")
    finally:
        sys.path.remove(str(tmp_path))
    create = importlib.import_module("recorder_client.api.default.create_recording")
    get = importlib.import_module("recorder_client.api.default.get_recording")
    body = models.CreateRecording(server_call_id=ongoing_call(stack), external_reference="generated-1")
    with package.AuthenticatedClient(base_url=stack.service_url, token=api.keys["service"]) as client:
        created = create.sync_detailed(client=client, body=body, idempotency_key=f"gen-{uuid.uuid4()}")
        assert created.status_code == 202, created.content
        assert isinstance(created.parsed, models.RecordingRequest)
        read = get.sync(request_id=created.parsed.id, client=client)
    assert isinstance(read, models.RecordingRequest), read
    assert (read.id, read.external_reference) == (created.parsed.id, "generated-1")
    assert read.state.value in ("connecting", "awaiting_consent", "recording")
    with package.AuthenticatedClient(base_url=stack.service_url, token="rk_not_a_key") as stranger:
        refused = get.sync_detailed(request_id=created.parsed.id, client=stranger)
    assert refused.status_code == 401 and isinstance(refused.parsed, models.Error)
