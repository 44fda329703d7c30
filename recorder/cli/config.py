"""``recorder config check|show|schema``: all three from the one settings model (recorder/config/model.py)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from typing import Any

from recorder.cli.common import OK, USAGE_OR_CONFIG, emit, split, wants_json
from recorder.config.calls import CallsSettings
from recorder.config.model import ConfigFileError, read_document
from recorder.config.schema import schema_text, unknown_keys
from recorder.config.settings import ConfigError, load_config


def add_commands(commands: Any) -> None:
    """Adds ``config`` to the top-level sub-commands (argparse's private _SubParsersAction)."""
    config = commands.add_parser("config", help="check, show or describe the configuration").add_subparsers(
        dest="config_command", required=True, metavar="COMMAND"
    )
    config.add_parser("show", help="print the effective configuration as JSON, every secret redacted")
    config.add_parser(
        "schema",
        help="print the JSON schema of the TOML file (for editors; also docs/recorder.schema.json)",
    )
    add_config_check(config)


def run(args: argparse.Namespace) -> int:
    if args.config_command == "check":
        return config_check(args)
    if args.config_command == "schema":
        text = schema_text()
    else:
        from recorder.config.show import show

        text = show(load_config(os.environ, for_serving=False))
    # JSON either way; --json: on one line, as every --json output
    print(json.dumps(json.loads(text), sort_keys=True) if wants_json(args) else text)
    return OK


def add_config_check(config: Any) -> None:
    """Adds ``check`` to the ``config`` sub-command group (argparse's private _SubParsersAction)."""
    check = config.add_parser(
        "check",
        help="validate the configuration without starting; every problem listed; exit 0 valid, 2 not",
        description="Validate RECORDER_* variables and the TOML file exactly as `recorder serve` would at "
        "start-up, without connecting to anything. Lists every problem (setting, value, what is expected).",
    )
    check.add_argument("--file", help="the TOML file to check (default: $RECORDER_CONFIG)")
    check.add_argument(
        "--no-serve", action="store_true", help="check only what CLI commands need (serve needs more)"
    )


def config_check(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    if args.file:
        env["RECORDER_CONFIG"] = args.file
    path = env.get("RECORDER_CONFIG")
    calls: dict[str, Any] = {"lines": []}
    try:
        config = load_config(env, for_serving=not args.no_serve)
    except ConfigError as exc:
        problems = exc.problems
    else:
        problems = []
        calls = calls_summary(config.calls)
    warnings = _warnings(path)
    errors = [split(p) for p in problems]
    where = f" ({path})" if path else " (environment only: RECORDER_CONFIG is not set)"
    text = [f"configuration error: {p}" for p in problems] or [
        f"configuration is valid{where}",
        *calls["lines"],
    ]
    text += [f"warning: {w}" for w in warnings]
    summary = {k: v for k, v in calls.items() if k != "lines"}
    emit(args, {"ok": not problems, "file": path, "errors": errors, "warnings": warnings, **summary}, *text)
    return USAGE_OR_CONFIG if problems else OK


def _warnings(path: str | None) -> list[str]:
    try:
        return unknown_keys(read_document(path))
    except ConfigFileError:
        return []  # already listed as a problem


def calls_summary(calls: CallsSettings) -> dict[str, Any]:
    """Which IncomingCalls are answered and who the service is in a call: shown by ``config check``."""
    answer_for, own = sorted(calls.answer_for), sorted(calls.service_identities)
    if answer_for:
        answering = f"answers IncomingCall to: {', '.join(answer_for)} (anything else: acknowledged, ignored)"
    else:
        answering = "answers every IncomingCall except to agent identities ([calls] answer_for is not set)"
    identities = ", ".join(own) or "none configured"
    lines = [
        answering,
        f"own identities, never prompted: {identities}; plus each call's callee and answeredBy",
        f"reconciles live calls with ACS every {calls.reconcile_seconds:g} s",
    ]
    return {"lines": lines, "answer_for": answer_for, "own_identities": own}
