"""``recorder emulator``: the local ACS Call Automation emulator as a process."""

from __future__ import annotations

import argparse
import os
from typing import Any

from recorder.cli import common
from recorder.config.settings import is_loopback


def add_command(commands: Any) -> None:
    """Adds ``emulator`` to the top-level sub-commands (argparse's private _SubParsersAction)."""
    emulator = commands.add_parser("emulator", help="run the local ACS Call Automation emulator")
    emulator.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    emulator.add_argument("--port", type=common.port_number, default=8799, help="port to listen on")
    emulator.add_argument(
        "--access-key",
        default=os.environ.get("RECORDER_ACS_ACCESS_KEY", ""),
        help="base64 key that signs the SDK's requests (default: RECORDER_ACS_ACCESS_KEY)",
    )
    emulator.add_argument(
        "--resource-id",
        default=os.environ.get("RECORDER_ACS_RESOURCE_ID", "emulator"),
        help="the emulated ACS resource's id (default: RECORDER_ACS_RESOURCE_ID, else 'emulator')",
    )
    emulator.add_argument(
        "--eventgrid-webhook-url", help="where Event Grid delivers events (IncomingCall, ...)"
    )
    emulator.add_argument(
        "--storage-connection-string",
        default=os.environ.get("RECORDER_EMULATOR_STORAGE_CONNECTION_STRING"),
        help="bring-your-own-storage: write recordings into this Azurite account",
    )
    emulator.add_argument(
        "--events-topic-key",
        default=os.environ.get("RECORDER_EVENTS_TOPIC_KEY"),
        help="aeg-sas-key the emulated Event Grid topic at /api/events requires",
    )
    repeatable = (
        ("--behaviour", "KNOB=VALUE", "a knob where ACS is undocumented (see recorder/emulator/README.md)"),
        ("--cognitive-services-endpoint", "URL", "an Azure AI services resource linked for text-to-speech"),
        ("--resource-number", "RAW_ID", "a phone number the resource owns, besides each call's callee"),
    )
    for flag, metavar, description in repeatable:
        emulator.add_argument(
            flag, action="append", default=[], metavar=metavar, help=f"{description} (repeatable)"
        )
    emulator.add_argument(
        "--eventgrid-token-audience",
        help="sign each Event Grid delivery with an Entra-style token for this audience",
    )


def run(args: argparse.Namespace) -> int:
    from recorder.emulator import EmulatorConfig
    from recorder.emulator.behaviour import BehaviourError, parse_assignments
    from recorder.emulator.server import run_forever
    from recorder.observability import logs

    if not args.access_key:
        raise common.usage_error("--access-key (or RECORDER_ACS_ACCESS_KEY) is required")
    if not is_loopback(args.host):  # its control API has no authentication
        raise common.usage_error(
            f"--host: the emulator listens on loopback addresses only (got {args.host!r})"
        )
    try:
        behaviour = parse_assignments(args.behaviour)
    except BehaviourError as exc:
        raise common.usage_error(f"--behaviour: {exc}") from None
    try:
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
    except ValueError as exc:  # e.g. "access_key must be base64"
        raise common.usage_error(f"--{str(exc).replace('_', '-')}") from None
    common.require_free_port(args.host, args.port)
    logs.configure()
    run_forever(config, args.host, args.port)
    return 0
