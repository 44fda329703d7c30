"""recorder: consent-enforcing call recording for Azure Communication Services.

It answers the calls Event Grid announces, asks every participant for consent, records only when everyone
present agreed, and keeps a consent ledger and a hash-chained audit trail. Start with `recorder demo`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import OperationalError

from recorder.cli import agents, common, compliance, config, db, emulator, exports
from recorder.cli.db import first_line
from recorder.config.settings import ConfigError, Settings, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except ConfigError as exc:
        return common.report_config_error(args, exc.problems)
    except common.CommandError as exc:
        return common.report_error(args, exc)
    except OperationalError as exc:  # the database went away after the checks
        return common.report_error(args, common.unreachable("database", first_line(exc)))
    except KeyboardInterrupt:
        return common.report_error(args, common.INTERRUPTED_ERROR)


def _parser() -> argparse.ArgumentParser:
    parser = common.Parser(
        prog="recorder",
        description=__doc__,
        epilog=common.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the webhook and compliance API server")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=common.port_number, default=8080, help="port to listen on")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (metrics summed)")

    config.add_commands(commands)

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="COMMAND"
    )
    db.add_parser("upgrade", help="migrate the database to the newest schema")

    keys = commands.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", required=True, metavar="COMMAND"
    )

    audit = commands.add_parser("audit", help="audit trail").add_subparsers(
        dest="audit_command", required=True, metavar="COMMAND"
    )
    audit.add_parser(
        "verify",
        help="recompute the hash chain and compare its anchors; exit 1 if broken, 3 if anchors unreadable",
    )
    compliance.add_commands(keys, audit)
    exports.add_commands(commands)
    agents.add_commands(commands)

    _add_local_commands(commands)
    common.add_json_flags(parser)
    return parser


def _add_local_commands(commands: Any) -> None:
    """``emulator``, ``retention`` and ``demo`` (argparse's private _SubParsersAction)."""
    emulator.add_command(commands)

    retention = commands.add_parser("retention", help="recording retention").add_subparsers(
        dest="retention_command", required=True, metavar="COMMAND"
    )
    retention.add_parser("run", help="delete expired recordings not on legal hold (each deletion audited)")

    demo = commands.add_parser("demo", help="service + emulator + simulated calls on the embedded defaults")
    demo.add_argument("--port", type=common.port_number, default=8080, help="port the service listens on")
    demo.add_argument("--exit", action="store_true", help="exit after the simulated calls instead of serving")


def _settings(for_serving: bool = False) -> Settings:
    return load_settings(os.environ, for_serving=for_serving)


def _run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        from recorder.cli.serve import serve

        return serve(args)
    if args.command == "config":
        return config.run(args)
    if args.command == "db":
        return db.upgrade(args, _settings().database_url)
    if args.command in ("keys", "audit"):
        settings = _settings()
        db.require_migrated(settings.database_url)
        return compliance.run(args, settings)
    if args.command in ("consents", "calls"):
        settings = _settings()
        db.require_migrated(settings.database_url)
        return exports.run(args, settings)
    if args.command == "agents":
        settings = _settings()
        db.require_migrated(settings.database_url)
        return agents.run(args, settings)
    if args.command == "emulator":
        return emulator.run(args)
    if args.command == "retention":
        from recorder.cli.retention import run_retention_command

        settings = _settings()
        db.require_migrated(settings.database_url)
        return run_retention_command(settings, common.wants_json(args))
    if args.command == "demo":
        from recorder.cli.demo import run_demo

        return run_demo(port=args.port, keep_serving=not args.exit)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
