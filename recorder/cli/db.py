"""``recorder db upgrade``, and the check every other database command makes first: the database is
reachable and at the schema this installed package ships. Both fail with one line and exit code 3."""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from recorder.cli.common import UNREACHABLE, CommandError, emit, unreachable
from recorder.config.database_urls import parse, shown
from recorder.db import migrate


def require_migrated(url: str) -> None:
    """Raises CommandError unless ``url`` is reachable and migrated to this package's head; changes nothing
    (a missing SQLite file is not created, no pragma is set)."""
    problem = _missing_sqlite_file(url)
    if problem is None:
        engine = create_engine(url)  # a bare engine: make_engine would switch SQLite to WAL
        try:
            problem = migrate.schema_problem(engine)
        except OperationalError as exc:
            raise unreachable(f"database {shown(url)}", first_line(exc)) from None
        finally:
            engine.dispose()
    if problem is not None:
        raise CommandError(
            UNREACHABLE,
            f"database {shown(url)}: {problem}",
            {"error": "not_migrated", "what": "database", "detail": problem},
        )


def upgrade(args: argparse.Namespace, url: str) -> int:
    before, after = migrate_to_head(url)
    emit(
        args,
        {"ok": True, "from": before, "to": after, "changed": before != after},
        f"database is at the newest schema ({', '.join(after)})",
    )
    return 0


def migrate_to_head(url: str) -> tuple[list[str], list[str]]:
    """Upgrade to the shipped head; the revisions before and after. A database migrated by a newer release
    or one that cannot be reached is a CommandError (exit 3), never a traceback."""
    try:
        before = migrate.current_heads(url)
        if migrate.unknown_revisions(before):  # alembic would fail on a revision it cannot find
            newer = migrate.describe(before, migrate.shipped_heads()) or ""
            raise CommandError(
                UNREACHABLE,
                f"database {shown(url)}: {newer}",
                {"error": "newer_schema", "what": "database", "detail": newer},
            )
        migrate.upgrade(url)
        return before, migrate.current_heads(url)
    except OperationalError as exc:
        raise unreachable(f"database {shown(url)}", first_line(exc)) from None


def first_line(exc: OperationalError) -> str:
    lines = str(exc.orig).strip().splitlines()
    return lines[0] if lines else type(exc.orig).__name__


def _missing_sqlite_file(url: str) -> str | None:
    parsed = parse(url)
    if parsed is None or parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database or "")
    if path.exists():
        return None
    if not path.parent.is_dir():
        raise unreachable(f"database {shown(url)}", f"directory {path.parent} does not exist")
    return f"not migrated: {migrate.UPGRADE_HINT}"
