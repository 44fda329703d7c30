"""Checks HTTP responses against the service's own OpenAPI document: the path and method are documented,
the status is one the operation lists, and a JSON body validates against that status's schema (formats
included). Tests attach it to their HTTP clients, so every response they receive is checked."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema_rs

from recorder.web.api.openapi import DOCUMENTED_PREFIXES


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"({\w+})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


@dataclass
class Contract:
    document: dict[str, Any]
    seen: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    _validators: dict[int, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        templates = sorted(self.document["paths"], key=lambda t: (t.count("{"), t))  # literal paths first
        self._templates = [(t, _pattern(t)) for t in templates]

    def template(self, path: str) -> str | None:
        return next((t for t, pattern in self._templates if pattern.match(path)), None)

    def problems(self, method: str, path: str, status: int, content_type: str, body: bytes) -> list[str]:
        """What about this response the document does not say (nothing: an empty list)."""
        if not path.startswith(DOCUMENTED_PREFIXES):
            return []
        where = f"{method} {path} → {status}"
        template = self.template(path)
        operation = self.document["paths"].get(template or "", {}).get(method.lower())
        if template is None or operation is None:
            return [f"{where}: the operation is not documented"]
        self.seen.setdefault((method.lower(), template), set()).add(status)
        answer = operation["responses"].get(str(status))
        if answer is None:
            return [f"{where}: status not documented (documented: {sorted(operation['responses'])})"]
        content = answer.get("content")
        if not content:
            return [] if not body else [f"{where}: a body where the document describes none"]
        media = content_type.split(";")[0].strip()
        described = content.get(media) or content.get("*/*")
        if described is None:
            return [f"{where}: content type {media!r} not documented ({sorted(content)})"]
        if media != "application/json":
            return []
        return [f"{where}: {e.message} at {list(e.instance_path)}" for e in self._errors(described, body)]

    def _errors(self, described: dict[str, Any], body: bytes) -> list[Any]:
        schema = described["schema"]
        key = id(schema)
        if key not in self._validators:
            root = {**schema, "components": self.document["components"]}
            self._validators[key] = jsonschema_rs.Draft202012Validator(root, validate_formats=True)
        return list(self._validators[key].iter_errors(json.loads(body)))

    def check(self, response: httpx.Response) -> None:
        """An httpx response hook: raises AssertionError on anything the document does not say."""
        response.read()
        request = response.request
        found = self.problems(
            request.method,
            request.url.path,
            response.status_code,
            response.headers.get("content-type", ""),
            response.content,
        )
        assert not found, "\n".join(found)
