"""``recorder agents …``: which identities are the center's consent-exempt agents, registered by an admin.

The same register as ``POST/GET/DELETE /api/exemptions``; every change is audited with the actor ``cli``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from recorder.cli.common import emit, wants_json
from recorder.cli.progress import print_table
from recorder.config.settings import Settings


def add_commands(commands: Any) -> None:
    """Adds ``agents`` to the top-level sub-commands (argparse's private _SubParsersAction)."""
    agents = commands.add_parser("agents", help="consent-exempt agent identities").add_subparsers(
        dest="agents_command", required=True
    )
    listing = agents.add_parser("list", help="list the identities registered as exempt agents")
    exempt = agents.add_parser(
        "exempt", help="register an identity as an agent: recorded exempt, never prompted"
    )
    exempt.add_argument("identity", help="the ACS raw id, e.g. 8:acs:<resource>_<id>")
    exempt.add_argument("--reason", default=None, help="what the ledger records (default: agent-identity)")
    remove = agents.add_parser("unexempt", help="remove an identity's exemption")
    remove.add_argument("identity", help="the ACS raw id registered as an agent")
    for parser in (listing, exempt, remove):
        parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from recorder.db.engine import make_engine, session_factory
    from recorder.db.unit_of_work import UnitOfWork
    from recorder.services.calls import agents

    engine = make_engine(settings.database_url)
    now = datetime.now(UTC)
    try:
        with UnitOfWork(session_factory(engine)) as uow:
            if args.agents_command == "list":
                items = agents.list_exemptions(uow.agents)
                if wants_json(args) or not items:
                    emit(args, {"exemptions": items}, "no exempt agents registered")
                else:
                    columns = ("identity", "reason", "registered_by", "registered_at")
                    print_table(columns, [[i[c] for c in columns] for i in items])
                return 0
            if args.agents_command == "exempt":
                try:
                    identity = agents.check_identity(args.identity)
                    reason = agents.check_reason(args.reason)
                except agents.ExemptionError as exc:
                    print(f"usage error: {exc}", file=sys.stderr)
                    return 2
                result = agents.register(uow, identity, reason, "cli", now)
                uow.commit()
                emit(args, {"ok": True, **result}, f"{identity} is now exempt ({reason})")
                return 0
            removed = agents.unregister(uow, args.identity, "cli", now)
            uow.commit()
            text = f"{args.identity}: exemption removed" if removed else f"{args.identity} was not exempt"
            emit(args, {"ok": removed, "identity": args.identity, "removed": removed}, text)
            return 0 if removed else 1
    finally:
        engine.dispose()
