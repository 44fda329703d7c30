"""Token settings and the input rules of the token endpoints: pure, no I/O beyond a temporary TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from recorder.config.settings import ConfigError, load_settings
from recorder.services.errors import Invalid, ServiceError
from recorder.services.tokens.user_tokens import check_identity, check_user_id


def test_the_token_lifetime_defaults_to_60_minutes() -> None:
    assert load_settings({}, for_serving=False).token_lifetime_minutes == 60


@pytest.mark.parametrize("minutes", ["60", "90", "1440"])
def test_lifetimes_acs_allows_are_taken(minutes: str) -> None:
    settings = load_settings({"RECORDER_TOKEN_LIFETIME_MINUTES": minutes}, for_serving=False)
    assert settings.token_lifetime_minutes == int(minutes)


@pytest.mark.parametrize("minutes", ["59", "1441", "0", "-60", "1.5", "an hour"])
def test_other_lifetimes_stop_start_up_naming_the_setting(minutes: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({"RECORDER_TOKEN_LIFETIME_MINUTES": minutes}, for_serving=False)
    (problem,) = refused.value.problems
    assert problem.startswith("RECORDER_TOKEN_LIFETIME_MINUTES: expected whole minutes from 60 to 1440")


def test_the_lifetime_can_come_from_the_toml_file_and_the_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "recorder.toml"
    config.write_text("[recorder]\ntoken_lifetime_minutes = 120\n")
    assert load_settings({"RECORDER_CONFIG": str(config)}, for_serving=False).token_lifetime_minutes == 120
    env = {"RECORDER_CONFIG": str(config), "RECORDER_TOKEN_LIFETIME_MINUTES": "240"}
    assert load_settings(env, for_serving=False).token_lifetime_minutes == 240
    config.write_text("[recorder]\ntoken_lifetime_minutes = 2000\n")
    with pytest.raises(ConfigError):
        load_settings({"RECORDER_CONFIG": str(config)}, for_serving=False)


@pytest.mark.parametrize("user_id", ["a", "agent-007", "alice@contoso.example", "tenant:42_x", "A" * 128])
def test_user_ids_an_app_would_use_are_accepted(user_id: str) -> None:
    assert check_user_id(user_id) == user_id


@pytest.mark.parametrize(
    "user_id", ["", " ", "a" * 129, "has space", "a/b", "-x", ".x", "é", "x\n", None, 7, ["a"]]
)
def test_other_user_ids_are_refused(user_id: object) -> None:
    with pytest.raises(ServiceError) as refused:
        check_user_id(user_id)
    assert (type(refused.value), refused.value.code) == (Invalid, "invalid_user_id")


@pytest.mark.parametrize(
    "identity",
    ["8:acs:b6aada1f-0b1d-47ac-866f-91aae00a1d01_00000015-1f9e-4bd5-8e09-9c3a0d00a1b2", "8:spool:abc_def"],
)
def test_acs_user_raw_ids_are_accepted(identity: str) -> None:
    assert check_identity(identity) == identity


@pytest.mark.parametrize(
    "identity",
    ["", "8:acs:", "4:+14255550101", "8:orgid:abc", "8:acs:a b", "acs:abc", None, {"id": "8:acs:x"}],
)
def test_other_identities_are_refused(identity: object) -> None:
    with pytest.raises(ServiceError) as refused:
        check_identity(identity)
    assert (type(refused.value), refused.value.code) == (Invalid, "invalid_identity")
