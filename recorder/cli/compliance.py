"""``recorder keys …`` and ``recorder audit …``: key management and the audit chain from the command line."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from recorder.cli.common import (
    UNREACHABLE,
    USAGE_OR_CONFIG,
    CommandError,
    emit,
    split,
    unreachable,
    usage_error,
    wants_json,
)
from recorder.cli.progress import print_table, progress
from recorder.config.settings import Settings


def add_commands(keys: Any, audit: Any) -> None:
    """Adds to the ``keys`` and ``audit`` sub-command groups (argparse's private _SubParsersAction)."""
    create = keys.add_parser("create", help="create an API key; prints it once, alone on the last line")
    create.add_argument(
        "--role",
        required=True,
        choices=["admin", "operator", "auditor", "service"],
        help="what the key may do",
    )
    create.add_argument("--name", required=True, help="who or what holds the key (shown by keys list)")
    create.add_argument("--expires-in-days", type=int, default=None, help="expire after N days")
    keys.add_parser("list", help="list API keys: id, name, role, state, expiry (never the keys)")
    revoke = keys.add_parser("revoke", help="revoke an API key by its id")
    revoke.add_argument("key_id", help="the key's id, as keys list shows it")
    audit.add_parser("anchor", help="write the chain head to the configured anchor store now")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from recorder.db.engine import make_engine, session_factory

    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            if args.command == "keys":
                return _keys(args, session)
            return _audit(args, session, settings)
    finally:
        engine.dispose()


def _keys(args: argparse.Namespace, session: Any) -> int:
    from recorder.db.repositories.access import KeyRepository
    from recorder.db.repositories.audit import AuditRepository
    from recorder.services.tokens.api_keys import Role, create_key, list_keys

    keys, now = KeyRepository(session), datetime.now(UTC)
    if args.keys_command == "create":
        if not args.name.strip():
            raise usage_error("--name must not be empty")
        days = getattr(args, "expires_in_days", None)
        if days is not None and not 1 <= days <= 3650:
            raise usage_error(f"--expires-in-days must be from 1 to 3650 (got {days})")
        ttl = timedelta(days=days) if days else None
        key_id, key = create_key(keys, Role(args.role), args.name, now, ttl)
        data = {"key_id": key_id, "role": args.role, "name": args.name, "expires_in_days": days}
        AuditRepository(session).append("cli", "api_key.created", None, data, now)
        session.commit()
        expiry = f", expires {(now + ttl).isoformat()}" if ttl else ""
        emit(
            args,
            {**data, "key": key, "expires_at": (now + ttl).isoformat() if ttl else None},
            f"created {args.role} key {key_id} named {args.name!r}{expiry}; it is shown only once:",
            key,
        )
        return 0
    if args.keys_command == "list":
        listed = list_keys(keys, now)
        if wants_json(args):
            emit(args, {"keys": listed})
        else:
            columns = ("id", "role", "state", "prefix", "expires_at", "name")
            print_table(columns, [[k[c] for c in columns] for k in listed])
        return 0
    if not keys.revoke(args.key_id, now):
        emit(
            args, {"ok": False, "key_id": args.key_id, "revoked": False}, f"no API key with id {args.key_id}"
        )
        return 1
    AuditRepository(session).append("cli", "api_key.revoked", None, {"key_id": args.key_id}, now)
    session.commit()
    emit(args, {"ok": True, "key_id": args.key_id, "revoked": True}, f"revoked key {args.key_id}")
    return 0


def _audit(args: argparse.Namespace, session: Any, settings: Settings) -> int:
    from recorder.bootstrap import anchor_store
    from recorder.db.repositories.audit import AuditRepository
    from recorder.services.compliance import anchoring
    from recorder.services.compliance.ports import AnchorStoreError

    store = anchor_store(settings)
    if args.audit_command == "anchor":
        if store is None:
            problem = "audit: no anchor store is configured (anchor_account_url or anchor_connection_string)"
            raise CommandError(
                USAGE_OR_CONFIG,
                f"configuration error: {problem}",
                {"error": "configuration", "errors": [split(problem)]},
            )
        try:
            seq = anchoring.anchor_head(AuditRepository(session), store, datetime.now(UTC))
        except AnchorStoreError as exc:
            raise unreachable("audit anchor store", str(exc)) from None
        emit(args, {"ok": True, "seq": seq}, f"anchored the chain head at seq {seq}")
        return 0
    with progress("audit verify"):  # one pass over the whole chain: a pulsing bar while it runs
        result = anchoring.verify(AuditRepository(session), store)
    chain = result.chain
    state = "intact" if chain.ok else f"BROKEN at seq {chain.first_bad}"
    lines = [f"audit chain {state}: {chain.entries} entries checked, head {chain.head}"]
    if store is not None:
        lines.append(
            f"anchors: {chain.anchors_checked} checked"
            + (f"; {result.anchors_error}" if result.anchors_error else "")
        )
    data = {
        "ok": chain.ok,
        "entries": chain.entries,
        "head": chain.head,
        "first_bad": chain.first_bad,
        "anchors_checked": chain.anchors_checked if store is not None else None,
        "anchors_error": result.anchors_error,
    }
    emit(args, data, *lines)
    if chain.ok and result.anchors_error:  # intact as far as it could tell, but the anchors went unchecked
        print(f"unreachable: audit anchor store: {result.anchors_error}", file=sys.stderr)
        return UNREACHABLE
    return 0 if chain.ok else 1
