"""``recorder retention run``: delete expired recordings not on hold, with a progress bar on stderr."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

from recorder.config import Settings
from recorder.db.engine import make_engine, session_factory
from recorder.db.unit_of_work import UnitOfWork
from recorder.services.retention import progress_bar, run_retention
from recorder.services.storage_wiring import build_storage


def run_retention_command(settings: Settings, as_json: bool = False) -> int:
    """Exit 0 when every expired recording not on hold went, 1 when some could not, 2 when unconfigured."""
    if settings.storage is None:
        print("configuration error: storage: no [storage] section, nothing to retain", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        service = build_storage(
            settings, lambda: UnitOfWork(sessions), lambda: datetime.now(UTC), source=False
        )
        assert service is not None
        report = run_retention(service, datetime.now(UTC), progress_bar(sys.stderr))
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
