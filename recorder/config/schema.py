"""The JSON schema of recorder.toml, made from the model (``recorder config schema``, published as
docs/recorder.schema.json for editors), and the keys of a file the service does not read (typos), found
with it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from recorder.config.model import ENV_TABLES, RecorderConfig
from recorder.config.problems import variable

DIALECT = "https://json-schema.org/draft/2020-12/schema"
TITLE = "recorder.toml"


def json_schema() -> dict[str, Any]:
    schema = RecorderConfig.model_json_schema()
    for model in ENV_TABLES.values():
        definition = schema["$defs"][model.__name__]
        for key, prop in definition["properties"].items():
            note = f"Environment: {variable(key)} (wins over the file)."
            prop["description"] = f"{prop.get('description', '').rstrip('.')}. {note}".lstrip(". ")
    return {"$schema": DIALECT, **schema, "title": TITLE}


def schema_text() -> str:
    """The schema as docs/recorder.schema.json holds it."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False)


def unknown_keys(document: Mapping[str, Any]) -> list[str]:
    """Tables and keys the service does not read: usually a typo that would silently change nothing."""
    schema = json_schema()
    sections = schema["properties"]
    found: list[str] = []
    for section, value in document.items():
        if section not in sections:
            found.append(f"[{section}]: not a section the service reads ({', '.join(sorted(sections))})")
        else:
            found += _unknown(value, sections[section], section, schema["$defs"])
    return found


def _unknown(value: Any, node: Mapping[str, Any], where: str, defs: Mapping[str, Any]) -> list[str]:
    node = _branch(value, node, defs)
    found: list[str] = []
    if isinstance(value, dict) and "properties" in node:
        for key, item in value.items():
            if key in node["properties"]:
                found += _unknown(item, node["properties"][key], f"{where}.{key}", defs)
            else:
                found.append(f"{where}.{key}: not a setting the service reads")
    elif isinstance(value, dict) and isinstance(node.get("additionalProperties"), dict):
        for key, item in value.items():
            found += _unknown(item, node["additionalProperties"], f"{where}.{key}", defs)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(value):
            found += _unknown(item, node["items"], f"{where}[{i}]", defs)
    return found


def _branch(value: Any, node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema ``value`` is read with: through $ref, and the object or array branch of an anyOf."""
    if "$ref" in node:
        return _branch(value, defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    wanted = "object" if isinstance(value, dict) else "array" if isinstance(value, list) else None
    for option in node.get("anyOf", []):
        option = _branch(value, option, defs)
        if option.get("type") == wanted:
            return option
    return node
