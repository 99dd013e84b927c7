"""Checking REST answers against Discord's published OpenAPI description.

``validate_rest_log(fake.rest_log, "discord-openapi.json")`` validates every JSON answer against the
response schema of its path, method and status (JSON Schema 2020-12, ``#/components/...`` refs
resolved with ``referencing``) and returns the errors. ``check_rest_log`` also says which operations
were validated and what was skipped (a path, method or status the description does not have).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

log = logging.getLogger(__name__)

SPEC_URI = "urn:discord-openapi"
METHODS = ("get", "put", "post", "patch", "delete")

_formats = FormatChecker()


@_formats.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if isinstance(value, str):
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@dataclass
class ConformanceReport:
    errors: list[str] = field(default_factory=list)
    validated: set[tuple[str, str, str]] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def operations(self) -> set[tuple[str, str]]:
        """(METHOD, templated path) pairs that had at least one answer validated."""
        return {(method, path) for method, path, _ in self.validated}


class _Spec:
    def __init__(self, path: Path) -> None:
        self.document = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self.paths: list[tuple[int, re.Pattern[str], str]] = []
        for template in self.document["paths"]:
            params = template.count("{")
            pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")
            self.paths.append((params, pattern, template))
        self.paths.sort(key=lambda item: item[0])
        self._validators: dict[str, Draft202012Validator] = {}

    def template_for(self, method: str, path: str) -> str | None:
        """The spec path that matches; literal segments (``@me``, ``@original``) beat parameters."""
        for _, pattern, template in self.paths:
            if pattern.match(path) and method in self.document["paths"][template]:
                return template
        return None

    def response(self, template: str, method: str, status: int) -> tuple[dict[str, Any], str] | None:
        responses = self.document["paths"][template][method].get("responses", {})
        for key in (str(status), f"{status // 100}XX", "default"):
            if key in responses:
                pointer = f"/paths/{_escape(template)}/{method}/responses/{key}"
                found = responses[key]
                while "$ref" in found:
                    ref = found["$ref"]
                    pointer = ref.removeprefix("#")
                    found = self._resolve(pointer)
                return found, pointer
        return None

    def _resolve(self, pointer: str) -> Any:
        node: Any = self.document
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def validator(self, pointer: str) -> Draft202012Validator:
        validator = self._validators.get(pointer)
        if validator is None:
            schema = {"$ref": f"{SPEC_URI}#{pointer}"}
            validator = Draft202012Validator(schema, registry=self.registry, format_checker=_formats)
            self._validators[pointer] = validator
        return validator


def _escape(template: str) -> str:
    return template.replace("~", "~0").replace("/", "~1")


@lru_cache(maxsize=4)
def _load(path: str) -> _Spec:
    return _Spec(Path(path))


def _field(entry: Any, name: str) -> Any:
    return entry[name] if isinstance(entry, dict) else getattr(entry, name)


def check_rest_log(entries: Iterable[Any], spec_path: str | Path) -> ConformanceReport:
    """Validate each logged answer (``method, path, status, response, content_type``) against the spec."""
    spec = _load(str(spec_path))
    report = ConformanceReport()
    for entry in entries:
        method = str(_field(entry, "method")).lower()
        path = str(_field(entry, "path"))
        status = int(_field(entry, "status"))
        body = _field(entry, "response")
        where = f"{method.upper()} {path} -> {status}"
        template = spec.template_for(method, path) if method in METHODS else None
        if template is None:
            report.skipped.append(f"{where}: no such path and method in the spec")
            continue
        found = spec.response(template, method, status)
        if found is None:
            report.skipped.append(f"{where}: status not described for {method.upper()} {template}")
            continue
        response, pointer = found
        report.checked += 1
        content = response.get("content")
        if not content:
            if body not in (None, "", b""):
                report.errors.append(f"{where} ({template}): the spec describes no body but one was sent")
            report.validated.add((method.upper(), template, str(status)))
            continue
        if "application/json" not in content:
            report.skipped.append(f"{where}: the spec's body is not JSON")
            continue
        content_type = entry.get("content_type") if isinstance(entry, dict) else getattr(entry, "content_type", None)
        if content_type is not None and content_type != "application/json":
            report.errors.append(f"{where} ({template}): Content-Type {content_type!r}, not 'application/json'")
        if body is None:
            report.errors.append(f"{where} ({template}): expected a JSON body, got none")
            continue
        schema_pointer = f"{pointer}/content/application~1json/schema"
        error = best_match(spec.validator(schema_pointer).iter_errors(body))
        if error is not None:
            location = "/".join(str(p) for p in error.absolute_path) or "(root)"
            report.errors.append(f"{where} ({template}): at {location}: {error.message[:300]}")
        report.validated.add((method.upper(), template, str(status)))
    return report


def validate_rest_log(entries: Iterable[Any], spec_path: str | Path) -> list[str]:
    """The conformance errors of every logged REST answer (empty when all conform)."""
    return check_rest_log(entries, spec_path).errors
