"""Run Alembic from code (``recorder db upgrade``, tests), and tell whether a database's schema is current.

The migrations ship inside the package (``recorder/db/migrations``) and are found through importlib.resources,
so an installed wheel migrates from any directory; ``alembic.ini`` at the repository root points at the same
place for developers.
"""

from __future__ import annotations

import functools

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine

SCRIPT_LOCATION = "recorder.db:migrations"
UPGRADE_HINT = "run recorder db upgrade"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def shipped_heads() -> list[str]:
    """The newest revisions this installed package knows."""
    return sorted(_script().get_heads())


def current_heads(database_url: str) -> list[str]:
    """The revisions the database is at (none for an empty database)."""
    from recorder.db.engine import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return heads_of(connection)
    finally:
        engine.dispose()


def heads_of(connection: Connection) -> list[str]:
    return sorted(MigrationContext.configure(connection).get_current_heads())


def schema_problem(engine: Engine) -> str | None:
    """Why this database cannot be used as it is, in one line; None when it is at the shipped head.

    Raises SQLAlchemy's OperationalError when the database cannot be reached at all.
    """
    with engine.connect() as connection:
        current = heads_of(connection)
    return describe(current, shipped_heads())


def describe(current: list[str], shipped: list[str]) -> str | None:
    if current == shipped:
        return None
    if not current:
        return f"not migrated: {UPGRADE_HINT}"
    at, needs = ", ".join(current), ", ".join(shipped)
    if unknown_revisions(current):
        return f"schema at {at} is newer than this release of recorder knows ({needs}): upgrade recorder"
    return f"schema at {at}, needs {needs}: {UPGRADE_HINT}"


def unknown_revisions(current: list[str]) -> list[str]:
    """Revisions a database is at that this package does not ship (a newer release migrated it)."""
    script = _script()
    unknown = []
    for revision in current:
        try:
            script.get_revision(revision)
        except CommandError:
            unknown.append(revision)
    return unknown


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(""))
