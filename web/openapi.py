"""The OpenAPI 3.1 description, built from the same route table the server runs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from core import __version__
from web.api import Route

_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")
_STATUS_TEXT = {
    400: "Malformed request",
    401: "Missing or invalid API key",
    403: "Key out of scope or read-only",
    404: "Not found",
    413: "Body too large",
    429: "Rate limited",
    500: "Internal error",
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
        ],
        "responses": {str(route.status): _success(route)},
    }
    if route.access in ("read", "write"):
        operation["security"] = [{"apiKey": []}]
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(route.body)}},
        }
    error = {"content": {"application/json": {"schema": route.family.error_schema}}}
    statuses = [400, 404, 413, 429, 500]
    if route.access in ("read", "write"):
        statuses += [401, 403]
    for status in sorted(statuses):
        operation["responses"][str(status)] = {"description": _STATUS_TEXT[status], **error}
    return operation


def _success(route: Route) -> dict[str, Any]:
    response: dict[str, Any] = {"description": "Success"}
    if route.response is not None:
        response["content"] = {"application/json": {"schema": _schema(route.response)}}
    return response


def _schema(model: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    if isinstance(model, dict):
        return model
    return model.model_json_schema(ref_template="#/$defs/{model}")
