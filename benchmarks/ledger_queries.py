"""Ledger query, export and audit-verify figures on PostgreSQL with 1,000,000 consent ledger rows.

    .venv/bin/python benchmarks/ledger_queries.py [--rows 1000000] [--audit 200000]

Builds a fresh database with the migrations, bulk-loads it with COPY (not through the service), then measures
GET /api/consents's query by participant and by a one-hour window (p50/p99 over 1,000 random queries each),
the CSV export's rows/s and peak memory, and the audit chain's verification rate. Drops the database after.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from recorder.db.engine import make_engine, session_factory
from recorder.db.migrate import upgrade
from recorder.domain import audit_chain
from recorder.services.queries import audit_view
from recorder.services.queries import compliance as compliance_queries
from recorder.services.queries import ledger as queries

ADMIN_URL = os.environ.get("RECORDER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=366)  # a year of rows up to now
OUTCOMES = ["granted"] * 7 + ["declined", "no_response", "withdrawn"]


def load(url: str, rows: int, audit_rows: int) -> list[str]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    calls = rows // 2
    people = [f"4:+1425{n:07d}" for n in range(rows // 5)]
    rng = random.Random(7)
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        call_ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(calls)]
        with cursor.copy(
            "COPY calls (id, call_connection_id, server_call_id, direction, locale, phase, recording,"
            " recording_reported, participants_sequence, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i, call_id in enumerate(call_ids):
                at = START + timedelta(seconds=i * 31_536_000 // calls)
                copy.write_row(
                    (call_id, f"conn-{i}", f"server-{i}", "inbound", "en-US", "ended", "idle", "", 0, at, at)
                )
        with cursor.copy(
            "COPY consent_ledger (call_id, call_connection_id, server_call_id, participant, outcome, method,"
            " dtmf, prompt_id, prompt_version, locale, prompt_sha256, prompted_at, decided_at, recorded_at)"
            " FROM STDIN"
        ) as copy:
            for i in range(rows):
                call = i // 2
                at = START + timedelta(seconds=i * 31_536_000 // rows)
                who, outcome = rng.choice(people), rng.choice(OUTCOMES)
                copy.write_row(
                    (call_ids[call], f"conn-{call}", f"server-{call}", who, outcome, "dtmf", "one",
                     "consent-default", "3", "en-US", "ab" * 32, at, at, at)
                )  # fmt: skip
        with cursor.copy(
            "COPY audit_log (seq, at, actor, action, call_id, data, prev_hash, hash) FROM STDIN"
        ) as copy:
            prev = audit_chain.GENESIS
            for seq in range(1, audit_rows + 1):
                at = START + timedelta(seconds=seq)
                data = {
                    "event_id": f"e{seq}",
                    "phase": "connected",
                    "consents": [],
                    "commands": ["StartRecording"],
                }
                digest = audit_chain.entry_hash(
                    prev, audit_chain.canonical(seq, at, "acs", "call.X", None, data)
                )
                copy.write_row((seq, at, "acs", "call.X", None, psycopg.types.json.Json(data), prev, digest))
                prev = digest
        cursor.execute("ANALYZE")
        connection.commit()
    return people


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--audit", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()

    name = f"recorder_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        started = time.perf_counter()
        people = load(url, args.rows, args.audit)
        took = time.perf_counter() - started
        print(f"loaded {args.rows:,} ledger rows and {args.audit:,} audit entries in {took:.1f} s")
        engine = make_engine(url)
        sessions = session_factory(engine)
        rng = random.Random(11)
        with sessions() as session:
            timings = []
            for _ in range(args.queries):
                who = rng.choice(people)
                t = time.perf_counter()
                queries.consents(session, queries.LedgerFilter(participant=who), None, 100)
                timings.append(time.perf_counter() - t)
            print(f"query by participant (limit 100): {percentiles(timings)}")
            timings = []
            for _ in range(args.queries):
                since = START + timedelta(hours=rng.randrange(0, 8000))
                f = queries.LedgerFilter(since=since, until=since + timedelta(hours=1))
                t = time.perf_counter()
                page = queries.consents(session, f, None, 100)
                timings.append(time.perf_counter() - t)
                assert page["items"]
            print(f"query by one-hour window (limit 100): {percentiles(timings)}")

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        size = sum(
            len(chunk)
            for chunk in compliance_queries.export_csv(
                compliance_queries.ledger_batches(engine, queries.LedgerFilter())
            )
        )
        elapsed = time.perf_counter() - t
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            f"export CSV: {args.rows:,} rows, {size / 1e6:.0f} MB in {elapsed:.1f} s"
            f" = {args.rows / elapsed:,.0f} rows/s; peak RSS {rss_after / 1024:.0f} MiB"
            f" (grew {(rss_after - rss_before) / 1024:.0f} MiB during the export)"
        )
        with sessions() as session:
            t = time.perf_counter()
            result = audit_view.verification(session, None)
            elapsed = time.perf_counter() - t
        assert result.chain.ok, result
        count = result.chain.entries
        print(f"audit verify: {count:,} entries in {elapsed:.1f} s = {count / elapsed:,.0f} entries/s")
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
