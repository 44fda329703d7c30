"""`--help` as an operator reads it: every option and argument of every command says what it is for, the
first steps match what the demo does, and the README names only files the repository has."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from recorder.cli import _parser
from recorder.cli.common import EPILOG
from recorder.cli.demo import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def commands(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += commands(sub, f"{path} {name}")
    return found


def test_every_option_of_every_command_has_a_description() -> None:
    undescribed = [
        f"{path} {action.option_strings or action.dest}"
        for path, parser in commands(_parser(), "recorder")
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction | argparse._HelpAction) and not action.help
    ]
    assert undescribed == []


def test_the_first_steps_count_the_demo_calls_it_places() -> None:
    [line] = [line for line in EPILOG.splitlines() if line.strip().startswith("recorder demo")]
    assert f" {NUMBERS[len(SCENARIOS)]} simulated calls" in line


def test_every_relative_path_the_readme_links_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    linked = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", readme)  # [text](path), not URLs or #anchors
    named = re.findall(r"`((?:docs|examples|scripts|tests|benchmarks|recorder)/[\w./-]+)`", readme)
    assert linked, "the README links no file: the pattern is wrong"
    missing = sorted({p for p in linked + named if not (ROOT / p).exists()})
    assert missing == []
