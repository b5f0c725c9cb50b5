"""Health, metrics and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from gateway.api.openapi import openapi_document
from gateway.app import make_app
from gateway.config.schema import Settings
from tests.api.test_alarms import ALARM
from tests.conftest import Api


async def test_healthz(api: Api) -> None:
    answer = await api.client.get("/healthz")
    assert answer.status == 200
    assert await answer.json() == {"status": "ok", "open_alarms": 0}


async def test_metrics_count_alarms_and_rejections(api: Api) -> None:
    await api.client.post("/api/v1/alarms", json=ALARM, headers=api.device())
    await api.client.post("/api/v1/alarms", json=ALARM, headers=api.device("bad"))
    text = await (await api.client.get("/metrics")).text()
    assert 'gateway_alarms_received_total{channel="http",type="fall"} 1.0' in text
    assert 'gateway_alarm_requests_rejected_total{reason="unauthorized"} 1.0' in text
    assert "gateway_open_alarms 1.0" in text
    assert "gateway_alarm_accept_seconds_count 1.0" in text


async def test_openapi_documents_every_route(api: Api, settings: Settings) -> None:
    answer = await api.client.get("/api/openapi.json")
    document = await answer.json()
    assert document["openapi"] == "3.1.0"
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    app: web.Application = make_app(settings)
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    assert served == documented
    schemas = document["components"]["schemas"]
    assert schemas["AlarmIn"]["properties"]["type"] == {"$ref": "#/components/schemas/AlarmType"}
    assert "sos" in schemas["AlarmType"]["enum"]


def test_every_schema_reference_resolves() -> None:
    document = openapi_document()
    refs: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    refs.add(str(value).rsplit("/", 1)[-1])
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs - set(document["components"]["schemas"]) == set()
