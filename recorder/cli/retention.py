"""``recorder retention run``: delete expired recordings not on hold, with a progress bar on stderr."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

from recorder.bootstrap import build_storage
from recorder.cli.common import CommandError, unreachable
from recorder.cli.progress import progress
from recorder.config.settings import Settings
from recorder.config.storage import StorageSettings
from recorder.db.engine import make_engine, session_factory
from recorder.db.unit_of_work import UnitOfWork
from recorder.services.storage.retention import run_retention


def run_retention_command(settings: Settings, as_json: bool = False) -> int:
    """Exit 0 when every expired recording not on hold went, 1 when some could not, 2 when unconfigured,
    3 when a region's storage cannot be reached (then nothing is changed)."""
    if settings.storage is None:
        message = "storage: no [storage] section, nothing to retain"
        raise CommandError(
            2, f"configuration error: {message}", {"error": "configuration", "message": message}
        )
    require_reachable(settings.storage)
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        service = build_storage(
            settings, lambda: UnitOfWork(sessions), lambda: datetime.now(UTC), source=False, provision=False
        )
        assert service is not None
        with progress("retention") as tracker:
            report = run_retention(service, datetime.now(UTC), tracker)
    finally:
        engine.dispose()
    summary = (
        f"retention: {report.deleted} deleted, {report.held} kept on legal hold, "
        f"{len(report.errors)} could not be deleted ({report.examined} expired)"
    )
    counts = {"deleted": report.deleted, "held": report.held, "examined": report.examined}
    print(json.dumps({"ok": not report.errors, **counts, "errors": report.errors}) if as_json else summary)
    for problem in report.errors:
        print(f"  not deleted: {problem}", file=sys.stderr)
    return 1 if report.errors else 0


def require_reachable(storage: StorageSettings) -> None:
    """Every region's container answers (read-only, no retries), before anything is deleted."""
    from recorder.adapters.blob_store import container_problem

    for name, region in storage.regions.items():
        problem = container_problem(region)
        if problem is not None:
            raise unreachable(f"storage region {name}", problem)
