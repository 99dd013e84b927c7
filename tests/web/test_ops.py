from web.families import API_FAMILIES


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
    served = {(route.method.lower(), route.resource.canonical) for route in client.app.router.routes()}
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
