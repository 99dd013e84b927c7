import importlib
import inspect
import re

from jsonschema import Draft202012Validator

from web import keys
from web.app import ROUTE_MODULES
from web.edge import unmatched
from web.families import ALL, API_FAMILIES


async def test_index_lists_every_family_and_links_the_spec(client_for):
    client = await client_for()
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    assert 'href="/openapi.json"' in page
    for family in API_FAMILIES:
        assert f'id="{family.name}"' in page
        assert family.title.split(" (")[0] in page


async def test_openapi_describes_every_served_route(client_for):
    client = await client_for()
    spec = await (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in client.app.router.routes()
        if route.handler is not unmatched  # the answer to paths no route takes, in the family's envelope
    }
    described = {(method, path) for path, operations in spec["paths"].items() for method in operations}
    assert served == described


async def test_healthz_reports_database_and_gateway(client_for):
    client = await client_for()
    response = await client.get("/healthz")
    body = await response.json()
    assert body["live"] is True
    assert body["checks"]["database"] is True
    assert body["checks"]["gateway"] is False  # no bot attached
    assert response.status == 503


SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def _loose_spots(node, where, *, response):
    """Schema nodes that do not say what they hold: bare ``{}``, objects without properties, no required list."""
    if not isinstance(node, dict):
        return []
    if not node:
        return [f"{where}: bare {{}}"]
    found = []
    is_object = node.get("type") == "object"
    if is_object and "properties" not in node and "additionalProperties" not in node:
        found.append(f"{where}: object without properties")
    if response and is_object and node.get("properties") and "required" not in node:
        found.append(f"{where}: object without required")
    for name, sub in node.items():
        if name in ("properties", "$defs", "patternProperties"):
            for key, child in sub.items():
                found += _loose_spots(child, f"{where}.{key}", response=response)
        elif name in ("items", "additionalProperties", "not") and isinstance(sub, dict):
            found += _loose_spots(sub, f"{where}.{name}", response=response)
        elif name in SCHEMA_LISTS:
            for index, child in enumerate(sub):
                found += _loose_spots(child, f"{where}.{name}[{index}]", response=response)
    return found


async def test_openapi_declares_parameters_bodies_responses_and_error_envelopes(client_for):
    client = await client_for()
    spec = await (await client.get("/openapi.json")).json()
    table = client.app[keys.ROUTES]
    problems = []
    for resource_route, route in table.items():
        path = resource_route.resource.canonical
        operation = spec["paths"][path][route.method.lower()]
        where = f"{route.method} {path}"
        declared = {(p["in"], p["name"]): p for p in operation["parameters"]}
        for name in re.findall(r"\{(\w+)\}", path):
            if ("path", name) not in declared:
                problems.append(f"{where}: path parameter {name} undeclared")
        for parameter in declared.values():
            if not parameter.get("schema", {}).get("type"):
                problems.append(f"{where}: parameter {parameter['name']} has no type")
        success = operation["responses"][str(route.status)]
        if route.status != 204 and route.method != "HEAD":
            content = success.get("content")
            if not content:
                problems.append(f"{where}: success has no content")
            for media in (content or {}).values():
                problems += _loose_spots(media["schema"], f"{where} {route.status}", response=True)
        if route.body is not None:
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            problems += _loose_spots(body, f"{where} body", response=False)
        errors = [status for status in operation["responses"] if status.startswith(("4", "5"))]
        if "400" not in errors or "500" not in errors:
            problems.append(f"{where}: the 400/500 error envelopes are missing")
        if route.access in ("read", "write") and not {"401", "403"} <= set(errors):
            problems.append(f"{where}: keyed route without 401/403")
        for status in errors:
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            if schema != route.family.error_schema and not (route.path == "/healthz" and status == "503"):
                problems.append(f"{where}: {status} is not the {route.family.name} envelope")
            problems += _loose_spots(schema, f"{where} {status}", response=True)
    assert problems == []


QUERY_READS = re.compile(r"""(?:query\.get|_int_query|_snowflake_query|query_id)\((?:request,\s*)?["']([\w-]+)["']""")


def test_every_query_parameter_a_handler_reads_is_declared():
    """A scan of the route modules: each name read from the query string is declared on one of their routes."""
    for module_name in ROUTE_MODULES:
        module = importlib.import_module(module_name)
        source = inspect.getsource(module)
        read = set(QUERY_READS.findall(source)) | ({"days"} if "query_days(" in source else set())
        family_routes = [route for family in ALL for route in family.routes if route.handler.__module__ == module_name]
        declared = {parameter.name for route in family_routes for parameter in route.query}
        assert read <= declared, (module_name, read - declared)


async def test_openapi_declares_body_ids_as_the_api_takes_them(client_for):
    # A body's ids are taken as decimal strings or JSON integers within int64, in every family.
    client = await client_for()
    spec = await (await client.get("/openapi.json")).json()

    def body(method: str, path: str) -> dict:
        return spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]

    party = body("post", "/transaction")["$defs"]["PartyBody"]
    check = body("post", "/modules/serverstats/stats/message/check")
    for declared in (party["properties"]["user_id"], check["properties"]["guild_id"]):
        validator = Draft202012Validator(declared)
        assert validator.is_valid("300000000000000001") and validator.is_valid(300000000000000001)
        assert not validator.is_valid(-1) and not validator.is_valid(2**63) and not validator.is_valid("12a")
