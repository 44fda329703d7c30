"""The scripted hostile run: the fuzz suite's three fuzzers, many more inputs than CI's, with the same harness
(tests/security/fuzz.py, tests/security/hostile.py), each on its own fresh SQLite database built by alembic.

    .venv/bin/python -m benchmarks.fuzz_summary [EXAMPLES_PER_FUZZER]     # default 3500: > 10,000 inputs

Prints, for the HTTP endpoints, the compliance API's OpenAPI operations (schemathesis) and the attack classes
of issue 16, the inputs tried, how many carried no valid credentials, the 5xx answers, the requests without
valid credentials that changed any row, and the answers a case did not allow (or refusals that changed a
row); then the totals. Exit 1 unless the last three are all 0.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import warnings
from pathlib import Path

from recorder.db.migrate import upgrade
from tests.security.fuzz import FuzzReport, api_keys, http_fuzz, schema_fuzz
from tests.security.hostile import hostile_fuzz, hostile_world
from tests.security.jwks import jwks_server
from tests.security.world import make_world


def run(examples: int, directory: Path) -> list[FuzzReport]:
    reports = []
    with jwks_server() as jwks:
        url = f"sqlite:///{directory / 'fuzz.db'}"
        upgrade(url)
        world = make_world(url, jwks)
        try:
            keys = api_keys(world)
            reports += [http_fuzz(world, keys, examples), schema_fuzz(world, keys, examples)]
        finally:
            world.close()
        url = f"sqlite:///{directory / 'hostile.db'}"
        upgrade(url)
        hostile = hostile_world(url, jwks)
        try:
            reports.append(hostile_fuzz(hostile, examples))
        finally:
            hostile.world.close()
    return reports


def main() -> int:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 3500
    warnings.simplefilter("ignore", DeprecationWarning)
    logging.disable(logging.WARNING)  # thousands of refused requests, each logged: only the summary matters
    with tempfile.TemporaryDirectory() as directory:
        reports = run(examples, Path(directory))
    for report in reports:
        print(report.line())
        for problem in report.failures[:10]:
            print(f"  {problem}")
    inputs = sum(r.inputs for r in reports)
    unauthenticated = sum(r.unauthenticated for r in reports)
    errors = sum(len(r.server_errors) for r in reports)
    changes = sum(len(r.unauthenticated_state_changes) for r in reports)
    unexpected = sum(len(r.unexpected) for r in reports)
    seconds = sum(r.seconds for r in reports)
    print(
        f"total: {inputs} inputs ({unauthenticated} without valid credentials) in {seconds:.0f} s; "
        f"5xx: {errors}; unauthenticated state changes: {changes}; unexpected answers: {unexpected}"
    )
    return 1 if errors or changes or unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
