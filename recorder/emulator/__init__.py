"""A local Azure Communication Services Call Automation emulator.

It answers the real ``azure-communication-callautomation`` SDK over HTTP (HMAC-checked), plays scripted
participants, and sends signed callbacks and Event Grid events, so a whole call runs on one machine. Nothing
here imports ``azure.*``.
"""

from recorder.emulator.app import create_app
from recorder.emulator.config import EmulatorConfig
from recorder.emulator.server import RunningEmulator, run_forever, start_emulator

__all__ = ["EmulatorConfig", "RunningEmulator", "create_app", "run_forever", "start_emulator"]
