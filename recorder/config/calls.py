"""The ``[calls]`` table: which IncomingCalls are answered, who the service itself is, and how often the
reconciliation loop reads ACS's truth.

```toml
[calls]
answer_for = ["4:+18005550100"]          # IncomingCall to anything else is acknowledged and ignored
own_identities = ["8:acs:<app id>_<id>"] # besides the callee and the answeredBy/source identities ACS reports
reconcile_seconds = 5                    # how often every live call is compared with what ACS says
answer_margin_seconds = 20               # past a prompt's silence timeout, before its answer is taken as lost
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# ACS raw ids: 4:+E.164 (phone), 8:acs:… / 8:teamsapp:… / 8:orgid:… (users, bots), 28:… (Teams apps)
RAW_ID = re.compile(r"(4:\+[1-9][0-9]{5,14}|8:[a-z]+:[^\s]{1,240}|28:[^\s]{1,240})")


@dataclass(frozen=True)
class CallsSettings:
    answer_for: frozenset[str] = frozenset()  # empty: every call except to an agent identity
    own_identities: frozenset[str] = frozenset()
    reconcile_seconds: float = 5.0
    answer_margin_seconds: int = 20

    @property
    def service_identities(self) -> frozenset[str]:
        """The numbers calls are answered for are the service too, wherever ACS lists them."""
        return self.own_identities | self.answer_for


def load_calls(section: Any, problems: list[str]) -> CallsSettings:
    if not isinstance(section, dict):
        problems.append("calls: expected a table ([calls])")
        return CallsSettings()
    return CallsSettings(
        answer_for=_identities(section, "answer_for", problems),
        own_identities=_identities(section, "own_identities", problems),
        reconcile_seconds=_number(section, "reconcile_seconds", 5.0, 0.2, 300, problems),
        answer_margin_seconds=int(_number(section, "answer_margin_seconds", 20, 1, 600, problems)),
    )


def _identities(section: dict[str, Any], key: str, problems: list[str]) -> frozenset[str]:
    value = section.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f'calls.{key}: expected a list of ACS raw ids such as "4:+18005550100"')
        return frozenset()
    bad = [v for v in value if not RAW_ID.fullmatch(v)]
    if bad:
        problems.append(
            f"calls.{key}: not ACS raw ids (4:+E.164, 8:acs:…, 28:…): {', '.join(map(repr, bad))}"
        )
    return frozenset(v for v in value if v not in bad)


def _number(
    section: dict[str, Any], key: str, default: float, low: float, high: float, problems: list[str]
) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        problems.append(f"calls.{key}: expected a number from {low:g} to {high:g} (got {value!r})")
        return float(default)
    return float(value)
