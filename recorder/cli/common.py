"""Command-line plumbing shared by every command: ``--json``, exit codes, ``recorder config check``."""

from __future__ import annotations

import argparse
import errno
import json
import socket
import sys
from collections.abc import Mapping
from typing import Any, NoReturn

# Exit codes, the same for every command (README: "Command line").
OK, CHECK_FAILED, USAGE_OR_CONFIG, UNREACHABLE, INTERRUPTED = 0, 1, 2, 3, 130

EPILOG = """\
first steps:
  recorder demo                          the service, the local ACS emulator and six simulated calls
  recorder config check                  validate RECORDER_* variables and the RECORDER_CONFIG file
  recorder db upgrade                    create or migrate the database (safe with several instances)
  recorder keys create --role auditor --name alice
  recorder serve --port 8080             webhooks, compliance API, /healthz, /readyz, /metrics

Every command that prints results takes --json: one JSON object on stdout, nothing else there.
Progress and log lines go to stderr.

exit codes:
  0    success
  1    a check failed: audit chain broken, nothing to revoke, some recordings not deleted
  2    bad usage or configuration (every problem is listed, one per line), or the port is taken
  3    the database or storage is unreachable, or the database is not migrated to this release's
       schema (run recorder db upgrade)
  130  interrupted (Ctrl-C)

configuration: RECORDER_* environment variables, and a TOML file named by RECORDER_CONFIG
(see examples/recorder.toml; recorder config schema prints its JSON schema). The environment wins.
"""

# Commands (by their path of sub-command names) that print results and so take --json.
JSON_COMMANDS = {
    ("config", "check"),
    ("config", "show"),  # prints JSON either way; accepted so that scripts can pass --json everywhere
    ("config", "schema"),  # likewise
    ("db", "upgrade"),
    ("keys", "create"),
    ("keys", "list"),
    ("keys", "revoke"),
    ("audit", "verify"),
    ("audit", "anchor"),
    ("retention", "run"),
    ("consents", "export"),
    ("calls", "evidence"),
}


class CommandError(Exception):
    """A command that cannot do its work: one line for stderr, an exit code, and what ``--json`` prints."""

    def __init__(self, code: int, line: str, data: Mapping[str, Any]) -> None:
        super().__init__(line)
        self.code = code
        self.line = line
        self.data = data


INTERRUPTED_ERROR = CommandError(INTERRUPTED, "interrupted", {"error": "interrupted"})


def usage_error(message: str) -> CommandError:
    return CommandError(USAGE_OR_CONFIG, f"usage error: {message}", {"error": "usage", "message": message})


def unreachable(what: str, detail: str) -> CommandError:
    return CommandError(
        UNREACHABLE,
        f"unreachable: {what}: {detail}",
        {"error": "unreachable", "what": what, "detail": detail},
    )


def report_error(args: argparse.Namespace, error: CommandError) -> int:
    print(error.line, file=sys.stderr)
    if wants_json(args):
        print(json.dumps({"ok": False, **error.data}))
    return error.code


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error: ``usage error: <command>: <problem> (see <command> --help)``."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_OR_CONFIG, f"usage error: {self.prog}: {message} (see {self.prog} --help)\n")


def port_number(value: str) -> int:
    """An argparse type: a TCP port, 0 to 65535."""
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535 (got {value!r})")
    return int(value)


def add_json_flags(parser: argparse.ArgumentParser) -> None:
    """``--json`` on every command in JSON_COMMANDS, however deep it sits."""
    for path, leaf in _leaves(parser, ()):
        if path in JSON_COMMANDS and not any("--json" in a.option_strings for a in leaf._actions):
            leaf.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...]
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return [(path, parser)]
    found = []
    for group in groups:
        for name, child in group.choices.items():
            found.extend(_leaves(child, (*path, name)))
    return found


def wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def emit(args: argparse.Namespace, data: Mapping[str, Any], *text: str) -> None:
    """The command's result: ``data`` as one JSON line with ``--json``, else the human lines."""
    if wants_json(args):
        print(json.dumps(data, default=str, sort_keys=True))
    else:
        for line in text:
            print(line)


def report_config_error(args: argparse.Namespace, problems: list[str]) -> int:
    for problem in problems:
        print(f"configuration error: {problem}", file=sys.stderr)
    if wants_json(args):
        print(json.dumps({"ok": False, "error": "configuration", "errors": [split(p) for p in problems]}))
    return USAGE_OR_CONFIG


def split(problem: str) -> dict[str, str]:
    """``"SETTING: what is wrong (got value)"`` → its parts, for ``--json``."""
    setting, _, message = problem.partition(": ")
    return {"setting": setting, "message": message, "problem": problem}


def require_free_port(host: str, port: int) -> None:
    """Fail with one line before anything starts when ``host:port`` cannot be listened on (taken, or a bad
    host), instead of a server logging a bind error after start-up."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            hint = "choose another --port" if exc.errno == errno.EADDRINUSE else "check --host and --port"
            reason = exc.strerror or str(exc)
            raise usage_error(f"cannot listen on {host}:{port}: {reason}; {hint}") from None
