"""The HTTP API against its own OpenAPI document: a short schemathesis run on a real
gateway, and the mismatches the long runs (bench/fuzz/api.py) found, replayed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bench.fuzz.api import CONFIG, EXCLUDED, Target, gateway
from gateway.api.openapi import openapi_document
from gateway.store.records import Role
from tests.conftest import Api


def documented(path: str, method: str, status: int) -> dict[str, Any]:
    """The OpenAPI document's entry for one answer; fails the test when it has none."""
    responses = openapi_document()["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} does not document {status}"
    return dict(responses[str(status)])


SCHEMA = schemathesis.openapi.from_dict(
    openapi_document(), config=SchemathesisConfig.from_path(CONFIG)
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with gateway(tmp_path_factory.mktemp("api")) as running:
        yield running
        assert running.process.poll() is None, "the gateway died"
        assert running.unhandled() == 0, "the gateway answered some request with a 500"


@pytest.mark.integration
@SCHEMA.exclude(path=EXCLUDED).parametrize()
@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
def test_each_operation_answers_as_documented(case: Case[Any], target: Target) -> None:
    """No 5xx but a documented 503; statuses, content types and bodies as documented."""
    case.call_and_validate(
        base_url=target.url, headers={"Authorization": f"Bearer {target.admin}"}, checks=CHECKS
    )


async def test_recordings_of_an_unknown_alarm_is_a_documented_404(api: Api) -> None:
    answer = await api.client.get("/api/v1/alarms/0/recordings", headers=api.staff(Role.SUPERVISOR))
    assert answer.status == 404
    documented("/api/v1/alarms/{alarm_id}/recordings", "get", 404)


async def test_events_without_a_websocket_upgrade_is_a_documented_400(api: Api) -> None:
    answer = await api.client.get("/api/v1/events", headers=api.staff())
    assert answer.status == 400
    documented("/api/v1/events", "get", 400)


async def test_a_page_the_role_may_not_see_is_a_documented_403(api: Api) -> None:
    answer = await api.client.get("/console", headers=api.staff(Role.ADMIN))
    assert answer.status == 403
    documented("/console", "get", 403)


async def test_a_bad_import_mode_is_an_error_the_document_allows(api: Api) -> None:
    answer = await api.client.post(
        "/api/v1/imports/agents?mode=AAA",
        data=b"name\n",
        headers={**api.staff(Role.ADMIN), "Content-Type": "text/csv"},
    )
    assert answer.status == 422
    assert (await answer.json())["error"]["details"][0]["field"] == "mode"
    schema = documented("/api/v1/imports/agents", "post", 422)["content"]["application/json"]
    assert {"$ref": "#/components/schemas/ErrorOut"} in schema["schema"]["oneOf"]
