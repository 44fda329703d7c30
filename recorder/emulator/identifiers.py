"""ACS communication identifiers: the JSON models the REST API exchanges, keyed by raw id."""

from __future__ import annotations

from typing import Any

PHONE_PREFIX = "4:"
ACS_USER_PREFIXES = ("8:acs:", "8:spool:", "8:dod-acs:", "8:gcch-acs:")


def identifier_model(raw_id: str) -> dict[str, Any]:
    """The identifier as ACS sends it: always ``rawId`` and ``kind``, plus the kind-specific part."""
    if raw_id.startswith(PHONE_PREFIX):
        return {"rawId": raw_id, "kind": "phoneNumber", "phoneNumber": {"value": raw_id[len(PHONE_PREFIX) :]}}
    if raw_id.startswith(ACS_USER_PREFIXES):
        return {"rawId": raw_id, "kind": "communicationUser", "communicationUser": {"id": raw_id}}
    return {"rawId": raw_id, "kind": "unknown"}


def raw_id_of(model: object) -> str:
    """The raw id of an identifier model sent by a client; ``ValueError`` when there is none."""
    if not isinstance(model, dict):
        raise ValueError("an identifier must be a JSON object")
    raw_id = model.get("rawId")
    if isinstance(raw_id, str) and raw_id:
        return raw_id
    phone = model.get("phoneNumber")
    number = phone.get("value") if isinstance(phone, dict) else None
    if isinstance(number, str) and number:
        return PHONE_PREFIX + number
    user = model.get("communicationUser")
    user_id = user.get("id") if isinstance(user, dict) else None
    if isinstance(user_id, str) and user_id:
        return user_id
    raise ValueError("the identifier has no rawId, phoneNumber or communicationUser")
