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
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from recorder.config.fields import Bounded, Table, problem

# ACS raw ids: 4:+E.164 (phone), 8:acs:… / 8:teamsapp:… / 8:orgid:… (users, bots), 28:… (Teams apps)
RAW_ID = re.compile(r"(4:\+[1-9][0-9]{5,14}|8:[a-z]+:[^\s]{1,240}|28:[^\s]{1,240})")


def _raw_ids(value: Any) -> Any:
    if not isinstance(value, list | tuple | set | frozenset) or not all(isinstance(v, str) for v in value):
        raise problem('expected a list of ACS raw ids such as "4:+18005550100"')
    bad = [v for v in value if not RAW_ID.fullmatch(v)]
    if bad:
        raise problem(f"not ACS raw ids (4:+E.164, 8:acs:…, 28:…): {', '.join(map(repr, bad))}")
    return frozenset(value)


RawIds = Annotated[frozenset[str], BeforeValidator(_raw_ids)]
NUMBER = "a number from {low:g} to {high:g}"


class CallsSettings(Table):
    answer_for: RawIds = Field(
        frozenset(),
        description="ACS raw ids whose IncomingCall is answered; anything else is acknowledged and ignored. "
        "Unset: every call except to an agent identity.",
    )
    own_identities: RawIds = Field(
        frozenset(),
        description="the service's own identities (besides the callee and answeredBy): never prompted",
    )
    reconcile_seconds: Annotated[float, Bounded(0.2, 300, NUMBER, whole=False)] = Field(
        5.0, description="how often every live call's participants and recording are read from ACS"
    )
    answer_margin_seconds: Annotated[int, Bounded(1, 600, NUMBER)] = Field(
        20, description="past a prompt's silence timeout, before its answer is taken as lost and asked again"
    )

    @property
    def service_identities(self) -> frozenset[str]:
        """The numbers calls are answered for are the service too, wherever ACS lists them."""
        return self.own_identities | self.answer_for
