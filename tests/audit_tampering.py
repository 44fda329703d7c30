"""What someone who bypasses the append-only triggers could do: a superuser disabling them on PostgreSQL, or
a raw SQLite connection dropping them. Used to prove that verify still finds the damage."""

from __future__ import annotations

import importlib
import json
import sqlite3
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def _sqlite_triggers() -> list[str]:
    module = importlib.import_module("recorder.db.migrations.versions.0005_compliance")
    return list(module.SQLITE_TRIGGERS)


def bypass(database_url: str, statement: str, params: dict[str, Any]) -> None:
    """Run one statement on audit_log with the triggers out of the way, then put them back."""
    if database_url.startswith("sqlite"):
        path = make_url(database_url).database
        assert path
        connection = sqlite3.connect(path)
        try:
            connection.execute("DROP TRIGGER audit_log_no_update")
            connection.execute("DROP TRIGGER audit_log_no_delete")
            connection.execute(
                statement.replace(":seq", "?").replace(":data", "?"), _ordered(statement, params)
            )
            for trigger in _sqlite_triggers():
                connection.execute(trigger)
            connection.commit()
        finally:
            connection.close()
        return
    engine = create_engine(database_url)
    with engine.begin() as pg:
        pg.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete"))
        pg.execute(text(statement), params)
        pg.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete"))
    engine.dispose()


def _ordered(statement: str, params: dict[str, Any]) -> list[Any]:
    names = sorted((statement.index(f":{k}"), k) for k in params)
    return [params[k] for _, k in names]


def rewrite_data(database_url: str, seq: int, data: dict[str, Any]) -> None:
    bypass(
        database_url,
        "UPDATE audit_log SET data = :data WHERE seq = :seq",
        {"data": json.dumps(data), "seq": seq},
    )


def delete_entry(database_url: str, seq: int) -> None:
    bypass(database_url, "DELETE FROM audit_log WHERE seq = :seq", {"seq": seq})


def read_data(database_url: str, seq: int) -> dict[str, Any]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        raw = connection.execute(
            text("SELECT data FROM audit_log WHERE seq = :seq"), {"seq": seq}
        ).scalar_one()
    engine.dispose()
    return raw if isinstance(raw, dict) else dict(json.loads(raw))


def rewrite_chain_from(database_url: str, seq: int, data: dict[str, Any]) -> None:
    """A wholesale rewrite: change entry ``seq`` and recompute every hash after it, so the chain alone
    verifies again. Only anchors kept outside the database can tell."""
    from recorder.domain import audit_chain

    engine = create_engine(database_url)
    sqlite = database_url.startswith("sqlite")
    with engine.begin() as connection:
        if sqlite:
            connection.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        else:
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete"))
        rows = connection.execute(
            text("SELECT seq, at, actor, action, call_id, data, prev_hash FROM audit_log ORDER BY seq")
        ).all()
        prev = audit_chain.GENESIS
        for row in rows:
            content = row.data if isinstance(row.data, dict) else json.loads(row.data)
            if row.seq == seq:
                content = data
            if row.seq >= seq:
                at = row.at if not isinstance(row.at, str) else _sqlite_time(row.at)
                digest = audit_chain.entry_hash(
                    prev, audit_chain.canonical(row.seq, at, row.actor, row.action, row.call_id, content)
                )
                connection.execute(
                    text(
                        "UPDATE audit_log SET data = :data, prev_hash = :prev, hash = :hash WHERE seq = :seq"
                    ),
                    {"data": json.dumps(content), "prev": prev, "hash": digest, "seq": row.seq},
                )
                prev = digest
            else:
                prev = connection.execute(
                    text("SELECT hash FROM audit_log WHERE seq = :s"), {"s": row.seq}
                ).scalar_one()
        if sqlite:
            connection.exec_driver_sql(_sqlite_triggers()[0])
        else:
            connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete"))
    engine.dispose()


def _sqlite_time(value: str) -> Any:
    from datetime import UTC, datetime

    return datetime.fromisoformat(value).replace(tzinfo=UTC)
