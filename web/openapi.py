"""The OpenAPI 3.1 description, built from the same route table the server runs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from core import __version__
from web.api import PREFER_MINIMAL, Route

_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")
_STATUS_TEXT = {
    400: "Malformed request",
    401: "Missing or invalid API key",
    403: "Key out of scope or read-only",
    404: "Not found",
    408: "The body arrived too slowly",
    409: "Conflict with the current state",
    413: "Body too large",
    415: "Wrong Content-Type",
    429: "Rate limited",
    500: "Internal error",
    502: "Discord refused the call",
    503: "Discord or the database is unreachable",
}
READINESS = "/healthz"
# The error statuses each family answers besides 401/403 (DESIGN.md section 4's table).
FAMILY_ERRORS = {
    "link": (400, 404, 413, 429, 500, 503),
    "voice": (400, 404, 409, 413, 429, 500, 503),
    "economy": (400, 404, 413, 415, 429, 500),
    "serverstats": (400, 404, 409, 413, 429, 500, 502, 503),
    "botlist": (400, 404, 413, 429, 500),
    "ops": (400, 404, 500, 503),
}


def build_openapi(routes: Iterable[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    tags = {}
    for route in sorted(routes, key=lambda r: (r.path, r.method)):
        tags[route.family.name] = {"name": route.family.name, "description": route.family.title}
        path = _PARAM.sub(r"{\1}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Guildhall", "version": __version__},
        "tags": list(tags.values()),
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "Authorization"}},
        },
        "paths": paths,
    }


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "tags": [route.family.name],
        "summary": route.summary,
        "operationId": f"{route.family.name}_{route.handler.__name__}",
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": r"^\d+$"}}
            for name in _PARAM.findall(route.path)
        ]
        + [
            {"name": p.name, "in": p.location, "required": p.required, "schema": p.schema}
            | ({"description": p.description} if p.description else {})
            for p in route.query
        ],
        "responses": {str(route.status): _success(route)},
    }
    if route.status == 201:  # a create that may replace: 200 when it did
        operation["responses"]["200"] = _success(route)
    if PREFER_MINIMAL in route.query:
        operation["responses"]["204"] = {"description": "Success; Prefer: return=minimal asked for no body"}
    if route.access in ("read", "write"):
        operation["security"] = [{"apiKey": []}]
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(route.body)}},
        }
    content: dict[str, Any] = {"application/json": {"schema": route.family.error_schema}}
    if route.content_type == "text/plain":
        content["text/plain"] = {"schema": {"type": "string"}}
    statuses = set(FAMILY_ERRORS.get(route.family.name, (400, 404, 413, 429, 500)))
    if route.access in ("read", "write") or (route.body is not None and route.family.name == "link"):
        statuses |= {401, 403}
    if route.body is not None:
        statuses.add(408)
    if route.path == READINESS:  # not ready is a 503 with the same health body
        operation["responses"]["503"] = {"description": "Not ready", **_success(route)}
    for status in sorted(statuses):
        operation["responses"].setdefault(str(status), {"description": _STATUS_TEXT[status], "content": content})
    return operation


def _success(route: Route) -> dict[str, Any]:
    response: dict[str, Any] = {"description": "Success"}
    if route.status == 204:
        return response
    if route.content_type != "application/json":
        response["content"] = {route.content_type: {"schema": {"type": "string"}}}
    elif route.response is not None:
        response["content"] = {"application/json": {"schema": _schema(route.response)}}
    return response


def _schema(model: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    if isinstance(model, dict):
        return model
    return model.model_json_schema(ref_template="#/$defs/{model}")
