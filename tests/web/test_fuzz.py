"""Property-based fuzzing of every route, driven by /openapi.json.

For each operation hypothesis draws path ids, query parameters and bodies from the declared
schemas (and from plain junk), sends them with a write key, no key or a wrong key, and checks the
answer: never a 5xx, never a status or body the spec does not declare, never a traceback.
``GUILDHALL_FUZZ_EXAMPLES`` raises the number of cases per operation (default 50).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.conftest import make_settings
from web.app import ROUTE_MODULES
from web.families import ALL
from web.openapi import build_openapi

log = logging.getLogger(__name__)

EXAMPLES = int(os.environ.get("GUILDHALL_FUZZ_EXAMPLES", "50"))
GUILD, USER, BOT = 1, 2, 555
CASES: Counter[str] = Counter()
ALL_CHECKS = list(HealthCheck)
PHASES = (Phase.explicit, Phase.generate)  # no shrinking: a failure reports the case as generated

for _module in ROUTE_MODULES:
    importlib.import_module(_module)
SPEC = build_openapi([route for family in ALL for route in family.routes])
OPERATIONS = [
    (method.upper(), path, operation)
    for path, operations in SPEC["paths"].items()
    for method, operation in operations.items()
    if method != "head"
]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
IDS = st.sampled_from([str(GUILD), str(USER), str(BOT), "0", str(2**63 - 1), str(2**63), "9" * 30]) | st.from_regex(
    r"\A[0-9]{1,22}\Z"
)
JUNK = st.text(max_size=12) | st.integers().map(str) | st.sampled_from(["%", "_", "'", "\\", "-1", "1e9", "NaN"])


def from_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Values that mostly fit a JSON schema (the subset pydantic and the route declarations use)."""
    defs = schema.get("$defs", defs or {})
    if "$ref" in schema:
        return st.deferred(lambda: from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs))
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return st.one_of([from_schema(option, defs) for option in schema[combinator]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": one}, defs) for one in kind])
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        edges = [v for v in (low, high) if v is not None] + [0, 1, -1, 2**53, 2**63]
        return st.integers(min_value=low, max_value=high) | st.sampled_from(edges)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False) | st.integers()
    if kind == "string":
        if schema.get("pattern") == r"^\d+$":
            return IDS
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40)) | JUNK
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = from_schema(schema.get("items", {}), defs) if schema.get("items") else JSON
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 5), 5))
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fixed = {name: from_schema(sub, defs) for name, sub in properties.items() if name in required}
        optional = {name: from_schema(sub, defs) for name, sub in properties.items() if name not in required}
        return st.fixed_dictionaries(fixed, optional=optional)
    return JSON


def _query_value(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if schema.get("pattern") == r"^\d+$":
        return IDS | JUNK
    return from_schema(schema).map(lambda v: v if isinstance(v, str) else json.dumps(v)) | JUNK


def _body(operation: dict[str, Any]) -> st.SearchStrategy[Any]:
    request = operation.get("requestBody")
    if request is None:
        return st.none() | JSON
    schema = request["content"]["application/json"]["schema"]
    return from_schema(schema) | from_schema(schema) | JSON


def _request(path: str, operation: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    parameters = operation.get("parameters", [])
    path_ids = {p["name"]: IDS for p in parameters if p["in"] == "path"}
    query = {p["name"]: st.none() | _query_value(p["schema"]) for p in parameters if p["in"] == "query"}
    return st.fixed_dictionaries(
        {
            "path": st.fixed_dictionaries(path_ids),
            "query": st.fixed_dictionaries(query),
            "extra": st.dictionaries(st.text("abcxyz_", min_size=1, max_size=6), JUNK, max_size=2),
            "body": _body(operation),
            "auth": st.sampled_from(["key", "key", "key", "key", "none", "wrong"]),
        }
    )


@pytest.fixture
async def fuzz_client(client_for, db_path, clock, repos):
    limits = {family.name: "off" for family in ALL} | {
        f"botlist.{name}": "off" for name in ("guilds", "review", "commands")
    }
    client = await client_for(app_settings=make_settings(db_path, api={"rate_limits": limits}))
    _, secret = await repos.api_keys.create("fuzzer", now=int(clock.time()), bot_user_id=999)
    await repos.botlist.register(BOT, by="test", now=int(clock.time()))
    created = await client.post(f"/profile/{GUILD}/{USER}", json={"voicepoints": 0}, headers={"Authorization": secret})
    assert created.status == 201
    client.secret = secret  # type: ignore[attr-defined]
    return client


def _check(method: str, path: str, operation: dict[str, Any], status: int, content_type: str, raw: bytes) -> None:
    where = f"{method} {path} -> {status}"
    # 503 is the documented answer of a route that needs Discord while it is unreachable (no bot here)
    assert status < 500 or (status == 503 and "503" in operation["responses"]), f"{where}: {raw[:300]!r}"
    assert b"Traceback" not in raw, where
    declared = operation["responses"].get(str(status))
    assert declared is not None, f"{where}: status not in the spec; body {raw[:300]!r}"
    content = declared.get("content")
    if content is None:
        assert raw == b"", where
        return
    assert content_type in content, f"{where}: {content_type} not among {list(content)}"
    if content_type == "application/json":
        errors = sorted(Draft202012Validator(content[content_type]["schema"]).iter_errors(json.loads(raw)), key=str)
        assert not errors, f"{where}: {errors[0].message} at {list(errors[0].absolute_path)}; body {raw[:300]!r}"


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
@settings(
    max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(data=st.data())
async def test_route_survives_generated_input(fuzz_client, method, path, operation, data):
    case = data.draw(_request(path, operation))
    url = path.format(**case["path"])
    params = {name: value for name, value in case["query"].items() if value is not None} | case["extra"]
    headers = {"Content-Type": "application/json"}
    if case["auth"] == "key":
        headers["Authorization"] = fuzz_client.secret
    elif case["auth"] == "wrong":
        headers["Authorization"] = "gh_not_a_real_key"
    body = None if case["body"] is None else json.dumps(case["body"]).encode()
    async with fuzz_client.request(method, url, params=params, data=body, headers=headers) as response:
        raw = await response.read()
        _check(method, path, operation, response.status, response.content_type, raw)
    CASES[f"{method} {path}"] += 1


def test_fuzz_summary(capsys):
    """Runs last in this module: how many cases each operation got, printed to the terminal."""
    ran = dict(CASES)
    if not ran:
        pytest.skip("the fuzz tests did not run in this session")
    line = f"fuzzed {len(ran)} operations, {sum(ran.values())} cases, at least {min(ran.values())} each"
    with capsys.disabled():
        print(f"\n{line}")
    log.info(line)
    assert len(ran) == len(OPERATIONS)
    assert min(ran.values()) >= EXAMPLES
