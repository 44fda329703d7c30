"""Outbox claims on PostgreSQL: how fast several dispatchers (threads standing in for instances) drain a
backlog with FOR UPDATE SKIP LOCKED claims, and that no command is claimed twice.

Queues C calls x K commands each, then D claimers loop: claim up to 8 ready commands, mark them done, repeat.
Prints commands/s and the number of claims per command (1.0 = each claimed exactly once).

    .venv/bin/python -m benchmarks.outbox_claims [--calls 500] [--commands 4] [--claimers 4]
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from recorder.db.engine import make_engine, session_factory
from recorder.db.migrate import upgrade
from recorder.db.tables.calls import Call, OutboxCommand
from recorder.db.unit_of_work import UnitOfWork
from tests.conftest import POSTGRES_ADMIN_URL, drop_postgres_database, fresh_postgres_database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--commands", type=int, default=4)
    parser.add_argument("--claimers", type=int, default=4)
    args = parser.parse_args()
    url, name = fresh_postgres_database(POSTGRES_ADMIN_URL)
    try:
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        now = datetime.now(UTC) - timedelta(seconds=1)
        with sessions() as session:
            call_ids = [str(uuid.uuid4()) for _ in range(args.calls)]
            session.execute(
                insert(Call),
                [
                    {
                        "id": c,
                        "server_call_id": f"s-{c}",
                        "direction": "inbound",
                        "locale": "en-US",
                        "phase": "answering",
                        "recording": "off",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for c in call_ids
                ],
            )
            session.execute(
                insert(OutboxCommand),
                [
                    {
                        "id": str(uuid.uuid4()),
                        "call_id": c,
                        "kind": "HangUp",
                        "payload": {"reason": "bench"},
                        "status": "pending",
                        "attempts": 0,
                        "available_at": now,
                        "created_at": now,
                    }
                    for _ in range(args.commands)
                    for c in call_ids
                ],
            )
            session.commit()
        claimed: Counter[str] = Counter()
        lock = threading.Lock()

        def claimer() -> None:
            idle = 0
            while idle < 3:
                with UnitOfWork(sessions) as uow:
                    taken = uow.outbox.claim_ready(datetime.now(UTC), 8, timedelta(seconds=30))
                    uow.commit()
                if not taken:
                    idle += 1
                    time.sleep(0.01)
                    continue
                idle = 0
                with UnitOfWork(sessions) as uow:
                    for command_id, _ in taken:
                        uow.outbox.finish(command_id, "done", datetime.now(UTC))
                    uow.commit()
                with lock:
                    claimed.update(command_id for command_id, _ in taken)

        started = time.perf_counter()
        threads = [threading.Thread(target=claimer) for _ in range(args.claimers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        total = args.calls * args.commands
        print(f"{total} commands ({args.calls} calls x {args.commands}), {args.claimers} claimers")
        print(f"drained {len(claimed)} in {elapsed:.2f} s: {len(claimed) / elapsed:,.0f} commands/s")
        mean = sum(claimed.values()) / len(claimed)
        print(f"claims per command: max {max(claimed.values())}, mean {mean:.2f}")
        engine.dispose()
    finally:
        drop_postgres_database(POSTGRES_ADMIN_URL, name)


if __name__ == "__main__":
    main()
