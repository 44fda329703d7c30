"""The one settings model: its published JSON schema, where each problem says it came from, typo warnings
found through the schema, and secrets declared where they are defined."""

from __future__ import annotations

import tomllib
from pathlib import Path

import jsonschema_rs
import pytest
from pydantic import BaseModel

from recorder.cli import main
from recorder.config.model import RecorderConfig
from recorder.config.schema import json_schema, schema_text, unknown_keys
from recorder.config.settings import ConfigError, load_config, load_settings
from recorder.config.show import NOT_SECRETS, SECRET_NAME

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "docs" / "recorder.schema.json"
EXAMPLE = ROOT / "examples" / "recorder.toml"


def test_the_published_schema_is_the_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert PUBLISHED.read_text() == schema_text() + "\n", (
        "run: recorder config schema > docs/recorder.schema.json"
    )
    assert main(["config", "schema"]) == 0
    assert capsys.readouterr().out == PUBLISHED.read_text()


def test_the_example_file_is_valid_against_the_schema_and_a_typo_is_not() -> None:
    validator = jsonschema_rs.validator_for(json_schema())
    document = tomllib.loads(EXAMPLE.read_text())
    assert validator.is_valid(document)
    document["consent"]["repromts"] = 1  # what an editor underlines as the operator types
    assert not validator.is_valid(document)
    document["consent"] = {"reprompts": 9}
    assert not validator.is_valid(document)  # out of the range the service accepts


def test_typos_are_warned_about_at_any_depth() -> None:
    document = {
        "colour": {},
        "consent": {"repromts": 1, "prompts": [{"id": "a", "verison": "1"}]},
        "storage": {"regions": {"weu": {"contaner": "x"}}, "routes": [{"regoin": "weu"}]},
        "auth": {"entra": {"roles": {"Any.Role": "admin"}, "audiance": "x"}},
        "recorder": {"public_uri": "https://x"},
    }
    assert unknown_keys(document) == [
        "[colour]: not a section the service reads "
        "(audit, auth, calls, consent, console, operations, outbox, recorder, storage)",
        "consent.repromts: not a setting the service reads",
        "consent.prompts[0].verison: not a setting the service reads",
        "storage.regions.weu.contaner: not a setting the service reads",
        "storage.routes[0].regoin: not a setting the service reads",
        "auth.entra.audiance: not a setting the service reads",
        "recorder.public_uri: not a setting the service reads",
    ]


def test_a_problem_names_the_variable_or_the_file_key_it_came_from(tmp_path: Path) -> None:
    config = tmp_path / "recorder.toml"
    config.write_text('[recorder]\ntoken_lifetime_minutes = 30\n[operations]\ndrain_seconds = "soon"\n')
    with pytest.raises(ConfigError) as from_file:
        load_settings({"RECORDER_CONFIG": str(config)}, for_serving=False)
    assert [p.split(":")[0] for p in from_file.value.problems] == [
        "recorder.token_lifetime_minutes",
        "operations.drain_seconds",
    ]
    env = {
        "RECORDER_CONFIG": str(config),
        "RECORDER_TOKEN_LIFETIME_MINUTES": "20",
        "RECORDER_DRAIN_SECONDS": "x",
    }
    with pytest.raises(ConfigError) as from_env:
        load_settings(env, for_serving=False)
    assert from_env.value.problems == [
        "RECORDER_TOKEN_LIFETIME_MINUTES: expected whole minutes from 60 to 1440, as ACS allows (got '20')",
        "RECORDER_DRAIN_SECONDS: expected seconds from 0 to 300 (got 'x')",
    ]


def test_the_environment_wins_key_by_key_and_an_empty_variable_is_unset(tmp_path: Path) -> None:
    config = tmp_path / "recorder.toml"
    config.write_text('[recorder]\npublic_url = "https://file.example"\ntoken_lifetime_minutes = 90\n')
    env = {
        "RECORDER_CONFIG": str(config),
        "RECORDER_TOKEN_LIFETIME_MINUTES": "120",
        "RECORDER_PUBLIC_URL": "",
    }
    settings = load_settings(env, for_serving=False)
    assert (settings.public_url, settings.token_lifetime_minutes) == ("https://file.example", 120)


def test_a_bad_table_and_its_cross_field_rules_are_reported_together(tmp_path: Path) -> None:
    config = tmp_path / "recorder.toml"
    config.write_text(
        '[consent]\ngrant_key = "1"\ndecline_key = "1"\nreprompts = true\ndefault_locale = "fr-FR"\n'
        '[[consent.prompts]]\nid = "p"\nversion = 2\nlocale = "en-US"\n'
    )
    with pytest.raises(ConfigError) as refused:
        load_config({"RECORDER_CONFIG": str(config)}, for_serving=False)
    assert refused.value.problems == [
        "consent.reprompts: expected a whole number from 0 to 5 (got True)",
        "consent.prompts[0]: set exactly one of text or audio_url",
        "consent.default_locale: no prompt for locale 'fr-FR'",
        "consent: grant_key, decline_key and withdraw_key must differ",
    ]


def test_every_field_named_like_a_secret_is_declared_secret() -> None:
    named_secret = [
        f"{model.__name__}.{name}"
        for model in _models(RecorderConfig)
        for name, info in model.model_fields.items()
        if SECRET_NAME.search(name) and name not in NOT_SECRETS and info.repr
    ]
    assert named_secret == []


def _models(model: type[BaseModel]) -> set[type[BaseModel]]:
    found = {model}
    for info in model.model_fields.values():
        for candidate in (info.annotation, *getattr(info.annotation, "__args__", ())):
            inner = getattr(candidate, "__args__", (candidate,))
            for kind in (candidate, *inner):
                if isinstance(kind, type) and issubclass(kind, BaseModel) and kind not in found:
                    found |= _models(kind)
    return found


def test_the_model_alone_reads_this_processs_environment_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "recorder.toml"
    config.write_text("[outbox]\nlease_seconds = 45\n")
    monkeypatch.setenv("RECORDER_CONFIG", str(config))
    monkeypatch.setenv("RECORDER_DRAIN_SECONDS", "7.5")
    read = RecorderConfig()
    assert (read.outbox.lease_seconds, read.operations.drain_seconds) == (45, 7.5)
