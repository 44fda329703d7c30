"""Migrations are the schema: the models must match them, and every migration must downgrade."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from recorder.db.engine import make_engine
from recorder.db.migrate import alembic_config, downgrade, upgrade
from recorder.db.tables.base import Base


def test_models_match_the_migrated_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_every_migration_downgrades_and_upgrades_again(empty_database_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(empty_database_url))
    revisions = [r.revision for r in script.walk_revisions("base", "heads")]
    upgrade(empty_database_url)
    for revision in revisions:  # newest first
        previous = script.get_revision(revision).down_revision
        downgrade(empty_database_url, previous if isinstance(previous, str) else "base")
    engine = make_engine(empty_database_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    assert "consent_ledger" in inspect(engine).get_table_names()
    engine.dispose()
