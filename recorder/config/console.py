"""The ``[console]`` table: how officers' searches read numbers typed without a country code.

```toml
[console]
default_region = "GB"   # RECORDER_DEFAULT_REGION: "020 7123 4567" is then read as +44 20 7123 4567
```
"""

from __future__ import annotations

from typing import Annotated, Any

import phonenumbers
from pydantic import BeforeValidator, Field

from recorder.config.fields import Table, problem


def _region(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    code = value.strip().upper() if isinstance(value, str) else None
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise problem(f"{value!r} is not a region code such as GB or US")
    return code


class ConsoleTable(Table):
    default_region: Annotated[str | None, BeforeValidator(_region)] = Field(
        None, description="region code (GB, US...) for national numbers typed in searches; none: E.164 only"
    )
