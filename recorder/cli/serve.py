"""``recorder serve``: refuse to start half set up, then run uvicorn; Ctrl-C ends with exit code 130.

Before anything listens: the configuration is valid, the port is free and the database is at the schema this
package ships (else one line naming ``recorder db upgrade``, exit 3), so a fresh deployment never serves on an
unmigrated database.
"""

from __future__ import annotations

import argparse
import os
import signal
from types import FrameType

import uvicorn
from uvicorn.supervisors import Multiprocess

from recorder.cli import common
from recorder.cli.db import require_migrated
from recorder.config.settings import load_settings
from recorder.observability import logs, metrics_dir
from recorder.web.http_protocol import HTTP_PROTOCOL
from recorder.web.security import forwarded_allow_ips, server_limits

APP = "recorder.web.app:app_from_environment"


def serve(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise common.usage_error(f"--workers must be 1 or more (got {args.workers})")
    settings = load_settings(os.environ, for_serving=True)  # fail fast, with every problem listed
    common.require_free_port(args.host, args.port)
    require_migrated(settings.database_url)
    logs.configure()
    metrics_files = metrics_dir.prepare_multiprocess_dir(args.workers, os.environ)
    config = uvicorn.Config(
        APP,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        http=HTTP_PROTOCOL,
        log_config=None,
        **forwarded_allow_ips(settings),  # X-Forwarded-* only from RECORDER_TRUSTED_PROXIES
        **server_limits(settings),  # connections, keep-alive and header deadlines for slow clients
    )
    try:
        interrupted = _run(config)
    finally:
        metrics_dir.remove_multiprocess_dir(metrics_files, os.environ)
    if interrupted:
        raise KeyboardInterrupt  # reported like any interrupted command: "interrupted", exit code 130
    return common.OK


def _run(config: uvicorn.Config) -> bool:
    """Serve until stopped; True when Ctrl-C (SIGINT) stopped it. SIGTERM drains, stops, and is success."""
    if config.workers > 1:
        supervisor = _Supervisor(config, sockets=[config.bind_socket()])
        supervisor.run()
        return supervisor.interrupted
    seen: list[int] = []

    def remember(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)

    # uvicorn replaces these handlers while serving, then restores them and raises the signal it caught again:
    # remembered here instead of ending the process (SIGTERM) or raising KeyboardInterrupt (SIGINT).
    previous = {signum: signal.signal(signum, remember) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        config.load_app()
        server = uvicorn.Server(config)
        server.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if not server.started and not seen:  # uvicorn logged why (the app failed to start)
        line = "error: the server did not start; the log above says why"
        raise common.CommandError(common.CHECK_FAILED, line, {"error": "start_failed"})
    return signal.SIGINT in seen


class _Supervisor(Multiprocess):
    """uvicorn's worker supervisor, remembering whether Ctrl-C stopped it."""

    interrupted = False

    def handle_int(self) -> None:
        self.interrupted = True
        super().handle_int()
