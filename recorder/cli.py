"""recorder: consent-enforcing call recording for Azure Communication Services.

It answers the calls Event Grid announces, asks every participant for consent, records only when everyone
present agreed, and keeps a consent ledger and a hash-chained audit trail. Start with `recorder demo`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sqlalchemy.exc import OperationalError

from recorder import compliance_cli, ops_cli
from recorder.config import ConfigError, Settings, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="recorder",
        description=__doc__,
        epilog=ops_cli.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the webhook and compliance API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (metrics summed)")

    config = commands.add_parser("config", help="check or show the configuration").add_subparsers(
        dest="config_command", required=True
    )
    config.add_parser("show", help="print the effective configuration as JSON, every secret redacted")
    ops_cli.add_config_check(config)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="migrate the database to the newest schema")

    keys = commands.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create an API key; prints it once, alone on the last line")
    create.add_argument("--role", required=True, choices=["admin", "operator", "auditor", "service"])
    create.add_argument("--name", required=True)
    create.add_argument("--expires-in-days", type=int, default=None, help="expire after N days")

    audit = commands.add_parser("audit", help="audit trail").add_subparsers(
        dest="audit_command", required=True
    )
    audit.add_parser("verify", help="recompute the hash chain and compare its anchors; exit 1 if broken")
    compliance_cli.add_commands(keys, audit)

    emulator = commands.add_parser("emulator", help="run the local ACS Call Automation emulator")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8799)
    emulator.add_argument("--access-key", default=os.environ.get("RECORDER_ACS_ACCESS_KEY", ""))
    emulator.add_argument("--resource-id", default=os.environ.get("RECORDER_ACS_RESOURCE_ID", "emulator"))
    emulator.add_argument("--eventgrid-webhook-url", default=None)
    emulator.add_argument(  # bring-your-own-storage: where the emulator writes recordings (Azurite)
        "--storage-connection-string", default=os.environ.get("RECORDER_EMULATOR_STORAGE_CONNECTION_STRING")
    )
    emulator.add_argument("--events-topic-key", default=os.environ.get("RECORDER_EVENTS_TOPIC_KEY"))
    emulator.add_argument(  # where ACS's behaviour is undocumented: see recorder/emulator/README.md
        "--behaviour", action="append", default=[], metavar="KNOB=VALUE"
    )
    emulator.add_argument(  # Azure AI services resources linked to the emulated ACS resource (text-to-speech)
        "--cognitive-services-endpoint", action="append", default=[], metavar="URL"
    )
    emulator.add_argument("--resource-number", action="append", default=[], metavar="RAW_ID")
    emulator.add_argument("--eventgrid-token-audience", default=None)

    retention = commands.add_parser("retention", help="recording retention").add_subparsers(
        dest="retention_command", required=True
    )
    retention.add_parser("run", help="delete expired recordings not on legal hold (each deletion audited)")

    demo = commands.add_parser("demo", help="service + emulator + simulated calls on the embedded defaults")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--exit", action="store_true", help="exit after the simulated calls instead of serving")

    ops_cli.add_json_flags(parser)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except ConfigError as exc:
        return ops_cli.report_config_error(args, exc.problems)
    except OperationalError as exc:
        return ops_cli.report_unreachable(args, "database", str(exc.orig).strip().splitlines()[0])
    except KeyboardInterrupt:
        return ops_cli.INTERRUPTED


def _settings(for_serving: bool = False) -> Settings:
    return load_settings(os.environ, for_serving=for_serving)


def _run(args: argparse.Namespace) -> int:
    from recorder import logs

    if args.command == "serve":
        import uvicorn

        from recorder import metrics_dir
        from recorder.web.http_protocol import HTTP_PROTOCOL
        from recorder.web.security import forwarded_allow_ips

        settings = _settings(for_serving=True)  # fail fast, with every problem listed
        logs.configure()
        metrics_files = metrics_dir.prepare_multiprocess_dir(args.workers, os.environ)
        uvicorn.run(
            "recorder.web.app:app_from_environment",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            http=HTTP_PROTOCOL,
            log_config=None,
            **forwarded_allow_ips(settings),  # X-Forwarded-* only from RECORDER_TRUSTED_PROXIES
        )
        metrics_dir.remove_multiprocess_dir(metrics_files, os.environ)
        return 0
    if args.command == "config" and args.config_command == "check":
        return ops_cli.config_check(args)
    if args.command == "config" and args.config_command == "show":
        from recorder.config_show import show

        print(show(_settings()))
        return 0
    if args.command == "db":
        from recorder.db.migrate import current_heads, upgrade

        url = _settings().database_url
        before = current_heads(url)
        upgrade(url)
        after = current_heads(url)
        ops_cli.emit(
            args,
            {"ok": True, "from": before, "to": after, "changed": before != after},
            f"database is at the newest schema ({', '.join(after)})",
        )
        return 0
    if args.command in ("keys", "audit"):
        return compliance_cli.run(args, _settings())
    if args.command == "emulator":
        from recorder.emulator import EmulatorConfig
        from recorder.emulator.behaviour import BehaviourError, parse_assignments
        from recorder.emulator.server import run_forever

        if not args.access_key:
            print(
                "configuration error: --access-key (or RECORDER_ACS_ACCESS_KEY) is required", file=sys.stderr
            )
            return 2
        try:
            behaviour = parse_assignments(args.behaviour)
        except BehaviourError as exc:
            print(f"configuration error: --behaviour: {exc}", file=sys.stderr)
            return 2
        logs.configure()
        config = EmulatorConfig(
            access_key=args.access_key,
            resource_id=args.resource_id,
            eventgrid_webhook_url=args.eventgrid_webhook_url,
            storage_connection_string=args.storage_connection_string,
            events_topic_key=args.events_topic_key,
            behaviour=behaviour,
            cognitive_services_endpoints=tuple(args.cognitive_services_endpoint),
            resource_numbers=tuple(args.resource_number),
            eventgrid_token_audience=args.eventgrid_token_audience,
        )
        run_forever(config, args.host, args.port)
        return 0
    if args.command == "retention":
        from recorder.services.retention_cli import run_retention_command

        return run_retention_command(_settings(), ops_cli.wants_json(args))
    if args.command == "demo":
        from recorder.demo import run_demo

        return run_demo(port=args.port, keep_serving=not args.exit)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
