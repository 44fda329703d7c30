"""The ``[consent]`` table: prompts, keys, reprompts, what a refusal does, exempt identities; and the consent
policy the domain runs on, made from it and the ``[calls]`` table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from recorder.config.calls import CallsSettings
from recorder.config.fields import Bounded, Loc, SecureUrl, Table, problem
from recorder.domain.model import ConsentPolicy, Prompt, RefusalAction

DEFAULT_PROMPT = Prompt(
    id="consent-default",
    version="1",
    locale="en-US",
    text=(
        "This call may be recorded for quality and compliance. "
        "Press 1 to agree to the recording, or press 2 to decline."
    ),
)
DTMF_WORDS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
    "7": "seven", "8": "eight", "9": "nine", "#": "pound", "*": "asterisk",
    "A": "a", "B": "b", "C": "c", "D": "d",
}  # fmt: skip
KEYS = (("grant_key", "1"), ("decline_key", "2"), ("withdraw_key", "9"))


def _text(value: Any) -> Any:
    """TOML may hold ``version = 3``: a number is taken as its text."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _dtmf(value: Any) -> Any:
    value = _text(value)
    if value not in DTMF_WORDS:
        raise problem(f"expected one of {' '.join(DTMF_WORDS)} (got {value!r})")
    return value


def _refusal(value: Any) -> Any:
    if value not in set(RefusalAction):
        raise problem(f"expected leave_unrecorded or hang_up (got {value!r})")
    return value


def _exempt(value: Any) -> Any:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise problem('expected a table of raw id = "reason"')
    return value


Text = Annotated[str, BeforeValidator(_text)]
Key = Annotated[str, BeforeValidator(_dtmf)]


class PromptTable(Table):
    """One prompt per locale: exactly one of text (text-to-speech) or audio_url (a WAV ACS can fetch)."""

    id: Text = Field(description="recorded in the ledger with every answer")
    version: Text = Field(description="recorded in the ledger with every answer")
    locale: Text = Field(description="e.g. en-US")
    text: str | None = Field(
        None, description="spoken with text-to-speech (RECORDER_COGNITIVE_SERVICES_ENDPOINT)"
    )
    audio_url: Annotated[str, SecureUrl(echo=False)] | None = Field(None, description="an https:// WAV")

    @classmethod
    def rules(cls, table: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        if (table.get("text") is None) == (table.get("audio_url") is None):
            return [((), "set exactly one of text or audio_url")]
        return []

    def prompt(self) -> Prompt:
        return Prompt(self.id, self.version, self.locale, self.text, self.audio_url)


class ConsentTable(Table):
    default_locale: str | None = Field(
        None, description="the prompt a call gets (default: the first prompt's)"
    )
    grant_key: Key = Field("1", description="DTMF key that grants: 0-9, #, *, A-D; the three keys differ")
    decline_key: Key = Field("2", description="DTMF key that declines")
    withdraw_key: Key = Field("9", description="DTMF key that withdraws consent at any time during the call")
    reprompts: Annotated[int, Bounded(0, 5)] = Field(2, description="extra prompts after silence")
    silence_timeout_seconds: Annotated[int, Bounded(1, 300)] = Field(
        10, description="silence before a reprompt"
    )
    on_refusal: Annotated[RefusalAction, BeforeValidator(_refusal)] = Field(
        RefusalAction.LEAVE_UNRECORDED, description="what a refusal does to the call"
    )
    prompts: tuple[PromptTable, ...] = Field((), description="[[consent.prompts]]: one per locale")
    exempt: Annotated[dict[str, str], BeforeValidator(_exempt)] = Field(
        default_factory=dict,
        description='identities recorded as exempt, never prompted: "<raw id>" = "<reason>"',
    )

    @classmethod
    def rules(cls, table: Mapping[str, Any]) -> list[tuple[Loc, str]]:
        found: list[tuple[Loc, str]] = []
        prompts = table.get("prompts")
        locales = (
            [p.get("locale") for p in prompts if isinstance(p, dict)] if isinstance(prompts, list) else []
        )
        locale = table.get("default_locale")
        if locale is not None and locale not in (locales or [DEFAULT_PROMPT.locale]):
            found.append((("default_locale",), f"no prompt for locale {locale!r}"))
        keys = [_text(table.get(key, default)) for key, default in KEYS]
        if len(set(keys)) != len(keys):
            found.append(((), "grant_key, decline_key and withdraw_key must differ"))
        return found

    def policy(self, calls: CallsSettings) -> ConsentPolicy:
        prompts = {p.locale: p.prompt() for p in self.prompts} or {DEFAULT_PROMPT.locale: DEFAULT_PROMPT}
        return ConsentPolicy(
            prompts=prompts,
            default_locale=self.default_locale or next(iter(prompts)),
            grant_tone=DTMF_WORDS[self.grant_key],
            decline_tone=DTMF_WORDS[self.decline_key],
            withdraw_tone=DTMF_WORDS[self.withdraw_key],
            reprompts=self.reprompts,
            silence_timeout_seconds=self.silence_timeout_seconds,
            on_refusal=self.on_refusal,
            exempt=dict(self.exempt),
            own_identities=calls.service_identities,
            answer_margin_seconds=calls.answer_margin_seconds,
        )
