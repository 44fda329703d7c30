"""Fuzz summary: many more inputs than the test suite's run, with the same harness (tests/security/fuzz.py).

    .venv/bin/python -m benchmarks.fuzz_summary [EXAMPLES]

Prints, for the HTTP endpoints and for the compliance API's OpenAPI operations (schemathesis), the inputs
tried, how many carried no valid credentials, the 5xx answers (must be 0) and the unauthenticated requests
that changed a table's row count (must be 0). Exit 1 if either is not 0.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import warnings
from pathlib import Path

from recorder.db.migrate import upgrade
from tests.security.fuzz import api_keys, http_fuzz, schema_fuzz
from tests.security.jwks import jwks_server
from tests.security.world import make_world


def main() -> int:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    warnings.simplefilter("ignore", DeprecationWarning)
    logging.disable(
        logging.WARNING
    )  # thousands of refused requests, each logged: only the summary matters here
    with tempfile.TemporaryDirectory() as directory, jwks_server() as jwks:
        url = f"sqlite:///{Path(directory) / 'recorder.db'}"
        upgrade(url)
        world = make_world(url, jwks)
        try:
            keys = api_keys(world)
            reports = [http_fuzz(world, keys, examples), schema_fuzz(world, keys, examples)]
        finally:
            world.close()
    failed = False
    for report in reports:
        print(report.line())
        for problem in report.server_errors[:10] + report.unauthenticated_state_changes[:10]:
            print(f"  {problem}")
        failed = failed or bool(report.server_errors or report.unauthenticated_state_changes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
