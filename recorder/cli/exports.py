"""``recorder consents export`` and ``recorder calls evidence``: what ``GET /api/consents/export`` and
``GET /api/calls/{id}/evidence`` give, from the command line, through the same services, with the same
filters and the same audit entries (actor ``cli``).

Each writes its file in place only once it is complete: the content goes to ``FILE.partial`` and is renamed
at the end, so an interrupted export never leaves a complete-looking file behind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

from recorder.cli.common import emit, usage_error, wants_json
from recorder.cli.progress import Tracker, progress
from recorder.config.settings import Settings
from recorder.domain.model import Consent
from recorder.services.queries.ledger import BadQuery, LedgerFilter, in_stored_range, ledger_conditions

OUTCOMES = [c.value for c in Consent if c not in (Consent.PENDING, Consent.PROMPTED, Consent.SERVICE)]


def moment(text: str) -> datetime:
    """An argparse type: an ISO 8601 time with a zone (Z or an offset), in UTC, as the API takes it."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        wanted = "an ISO 8601 time such as 2026-01-31T00:00Z"
        raise argparse.ArgumentTypeError(f"expected {wanted} (got {text!r})") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"expected a time with a zone, e.g. Z or +01:00 (got {text!r})")
    try:
        return in_stored_range(parsed, "time")
    except BadQuery as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_commands(commands: Any) -> None:
    """Adds ``consents export`` and ``calls evidence`` (argparse's private _SubParsersAction)."""
    consents = commands.add_parser("consents", help="the consent ledger").add_subparsers(
        dest="consents_command", required=True, metavar="COMMAND"
    )
    export = consents.add_parser(
        "export",
        help="stream the ledger's answers decided in [--since, --until) to CSV or JSON Lines; audited",
    )
    export.add_argument(
        "--since", type=moment, required=True, help="first decision time, e.g. 2026-01-01T00:00Z"
    )
    export.add_argument("--until", type=moment, required=True, help="decisions before this time only")
    export.add_argument("--participant", help="only this participant's answers (an ACS raw id)")
    export.add_argument("--outcome", choices=OUTCOMES, help="only answers with this outcome")
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv", help="csv (default) or jsonl")
    export.add_argument(
        "--output", required=True, type=Path, help="the file to write (replaced when complete)"
    )
    calls = commands.add_parser("calls", help="a call's evidence").add_subparsers(
        dest="calls_command", required=True, metavar="COMMAND"
    )
    evidence = calls.add_parser(
        "evidence", help="one call's evidence bundle: ledger, prompts, recordings, audit entries (audited)"
    )
    evidence.add_argument("call_connection_id", metavar="CALL_ID", help="the call's call_connection_id")
    evidence.add_argument("--output", type=Path, help="write the bundle to this file (default: stdout)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from recorder.db.engine import make_engine, session_factory
    from recorder.db.unit_of_work import UnitOfWork
    from recorder.services.compliance.access_log import AccessLog

    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    access_log = AccessLog(lambda: UnitOfWork(sessions), lambda: datetime.now(UTC))
    try:
        if args.command == "consents":
            return _export(args, engine, access_log)
        return _evidence(args, settings, access_log)
    finally:
        engine.dispose()


def _details(command: str, path: str, query: dict[str, Any]) -> dict[str, Any]:
    """The API's audit details (role, path, query), for the same path, and the command that read it."""
    given = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in query.items() if v is not None}
    return {"role": "cli", "path": path, "query": urlencode(given), "command": command}


def _export(args: argparse.Namespace, engine: Any, access_log: Any) -> int:
    from recorder.services.queries import compliance as cq

    filters = LedgerFilter(
        participant=args.participant, outcome=args.outcome, since=args.since, until=args.until
    )
    query = {
        "since": args.since,
        "until": args.until,
        "participant": args.participant,
        "outcome": args.outcome,
    }
    with written(args.output) as out:
        details = _details("consents export", "/api/consents/export", {**query, "format": args.format})
        total = access_log.read("cli", "api.consents.export", details, lambda s: _count(s, filters))
        with progress("export", total) as tracker:
            rows = _counted(cq.ledger_batches(engine, filters), tracker)
            encode = cq.export_jsonl if args.format == "jsonl" else cq.export_csv
            for chunk in encode(rows):
                out.write(chunk)
    summary = {"ok": True, "rows": tracker.done, "format": args.format, **out.summary()}
    emit(args, summary, f"exported {tracker.done} consent records to {args.output} ({out.describe()})")
    return 0


def _count(session: Any, filters: LedgerFilter) -> int:
    """How many rows the export will hold (for the progress bar): the export's own conditions."""
    from sqlalchemy import func, select

    from recorder.db.tables.calls import ConsentEntry

    query = select(func.count()).select_from(ConsentEntry).where(*ledger_conditions(filters))
    return int(session.scalar(query) or 0)


def _counted(batches: Iterator[Sequence[Any]], tracker: Tracker) -> Iterator[Sequence[Any]]:
    for rows in batches:
        yield rows
        tracker.advance(len(rows))


def _evidence(args: argparse.Namespace, settings: Settings, access_log: Any) -> int:
    from recorder.services.queries import compliance as cq

    connection_id = args.call_connection_id
    path = f"/api/calls/{connection_id}/evidence"
    details = _details("calls evidence", path, {})
    bundle = access_log.read(
        "cli", "api.call.evidence", details, lambda s: cq.evidence_bundle(s, connection_id, settings.policy)
    )
    if bundle is None:
        message = f"no call with call_connection_id {connection_id}"
        print(message, file=sys.stderr)
        emit(args, {"ok": False, "error": "not_found", "call_connection_id": connection_id})
        return 1
    if args.output is None:
        print(json.dumps(bundle, sort_keys=True) if wants_json(args) else json.dumps(bundle, indent=2))
        return 0
    counts = {key: len(value) for key, value in bundle.items() if isinstance(value, list)}
    with written(args.output) as out, progress("evidence", sum(counts.values())) as tracker:
        write_json(bundle, out.write, tracker)
    summary = {"ok": True, "call_connection_id": connection_id, **counts, **out.summary()}
    entries = counts.get("audit_entries", 0)
    emit(args, summary, f"wrote the evidence of {connection_id} ({entries} audit entries) to {args.output}")
    return 0


def write_json(document: dict[str, Any], write: Callable[[str], Any], tracker: Tracker) -> None:
    """``document`` as indented JSON, a list's items one at a time (each one step of ``tracker``)."""
    write("{")
    for n, (key, value) in enumerate(document.items()):
        write(f"{',' if n else ''}\n  {json.dumps(key)}: ")
        if not isinstance(value, list) or not value:
            write(_indented(value, 2))
            continue
        write("[")
        for i, item in enumerate(value):
            write(f"{',' if i else ''}\n    {_indented(item, 4)}")
            tracker.advance()
        write("\n  ]")
    write("\n}\n")


def _indented(value: Any, by: int) -> str:
    return json.dumps(value, indent=2).replace("\n", "\n" + " " * by)


class Output:
    """A file being written: its size and SHA-256 as it grows."""

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path, self._handle = path, handle
        self._hash, self.size = hashlib.sha256(), 0

    def write(self, text: str) -> None:
        data = text.encode()
        self._handle.write(data)
        self._hash.update(data)
        self.size += len(data)

    def summary(self) -> dict[str, Any]:
        return {"output": str(self.path), "bytes": self.size, "sha256": self._hash.hexdigest()}

    def describe(self) -> str:
        return f"{self.size} bytes, sha256 {self._hash.hexdigest()}"


@contextmanager
def written(path: Path) -> Iterator[Output]:
    """``path`` written through ``path.partial``, renamed into place only when the block completes."""
    partial = path.with_name(path.name + ".partial")
    try:
        handle = partial.open("wb")
    except OSError as exc:
        raise usage_error(f"--output: cannot write {path}: {exc.strerror or exc}") from None
    try:
        with handle:
            yield Output(path, handle)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
