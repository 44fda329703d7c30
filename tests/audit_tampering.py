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
    bypass_all(database_url, [(statement, params)])


def bypass_all(database_url: str, statements: list[tuple[str, dict[str, Any]]]) -> None:
    """Run statements on audit_log in one transaction with the triggers out of the way, then put them back."""
    if database_url.startswith("sqlite"):
        path = make_url(database_url).database
        assert path
        connection = sqlite3.connect(path)
        try:
            connection.execute("DROP TRIGGER audit_log_no_update")
            connection.execute("DROP TRIGGER audit_log_no_delete")
            for statement, params in statements:
                connection.execute(statement, params)
            for trigger in _sqlite_triggers():
                connection.execute(trigger)
            connection.commit()
        finally:
            connection.close()
        return
    engine = create_engine(database_url)
    try:
        with engine.begin() as pg:
            pg.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete"))
            for statement, params in statements:
                pg.execute(text(statement), params)
            pg.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete"))
    finally:
        engine.dispose()


def write_raw_data(database_url: str, seq: int, raw: str) -> None:
    """Store ``raw`` as entry ``seq``'s payload text, JSON or not."""
    bypass(database_url, "UPDATE audit_log SET data = :data WHERE seq = :seq", {"data": raw, "seq": seq})


def swap_entries(database_url: str, first: int, second: int) -> None:
    """Exchange two entries' places in the chain, each keeping its own content and hashes."""
    move = "UPDATE audit_log SET seq = :to WHERE seq = :seq"
    bypass_all(
        database_url,
        [
            (move, {"to": -first, "seq": first}),
            (move, {"to": first, "seq": second}),
            (move, {"to": second, "seq": -first}),
        ],
    )


def insert_entry(database_url: str, seq: int) -> None:
    """Slip a well-formed entry in at ``seq``, linked to the one before, and move the rest one place on."""
    from datetime import UTC, datetime

    from recorder.domain import audit_chain

    engine = create_engine(database_url)
    with engine.connect() as connection:
        prev = connection.execute(
            text("SELECT hash FROM audit_log WHERE seq = :seq"), {"seq": seq - 1}
        ).scalar_one()
        last = int(connection.execute(text("SELECT max(seq) FROM audit_log")).scalar_one())
    engine.dispose()
    at, data = datetime.now(UTC), {"forged": True}
    digest = audit_chain.entry_hash(prev, audit_chain.canonical(seq, at, "key:forger", "forged", None, data))
    shifts = [
        ("UPDATE audit_log SET seq = :to WHERE seq = :seq", {"to": s + 1, "seq": s})
        for s in range(last, seq - 1, -1)
    ]
    insert = (
        "INSERT INTO audit_log (seq, at, actor, action, call_id, data, prev_hash, hash) "
        "VALUES (:seq, :at, 'key:forger', 'forged', NULL, :data, :prev, :hash)"
    )
    at_value = at.strftime("%Y-%m-%d %H:%M:%S.%f") if database_url.startswith("sqlite") else at
    values = {"seq": seq, "at": at_value, "data": json.dumps(data), "prev": prev, "hash": digest}
    bypass_all(database_url, [*shifts, (insert, values)])


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
