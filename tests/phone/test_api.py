"""The alarm POST: its body, the API's refusals, retries under one Idempotency-Key."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.api.schemas import AlarmIn
from gateway.phone import api
from gateway.phone.api import Position, alarm_body, parse_created, raise_alarm, refusal_message
from gateway.phone.errors import ApiError
from tests.conftest import free_port

AiohttpServer = Callable[[web.Application], Awaitable[TestServer]]
CREATED = {
    "id": "01ALARM",
    "voice": {"sip_uri": "sip:alarm@gw", "headers": {"X-Alarm-Id": "01ALARM"}},
}
WHEN = datetime(2026, 12, 4, 21, 0, tzinfo=timezone(timedelta(hours=1)))


def test_body_is_what_the_api_reads() -> None:
    body = alarm_body("fall", WHEN, Position(48.85, 2.35, 12.0), 64)
    parsed = AlarmIn.model_validate(body)
    assert parsed.type.value == "fall" and parsed.occurred_at == WHEN
    assert parsed.location is not None and parsed.location.accuracy_m == 12.0
    assert parsed.battery_pct == 64


def test_minimal_body_has_no_optional_fields() -> None:
    assert alarm_body("sos", WHEN, None, None) == {
        "type": "sos",
        "occurred_at": "2026-12-04T21:00:00+01:00",
    }


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        alarm_body("sos", datetime(2026, 1, 1), None, None)


def test_refusal_shows_the_apis_message_and_details() -> None:
    text = json.dumps(
        {
            "error": {
                "status": 422,
                "code": "invalid",
                "message": "invalid alarm",
                "details": [{"field": "battery_pct", "message": "at most 100"}],
            }
        }
    )
    assert refusal_message(422, text) == "HTTP 422: invalid alarm; battery_pct: at most 100"


def test_refusal_that_is_not_the_apis_json_is_shown_raw() -> None:
    assert refusal_message(404, "<h1>Not here</h1>\n") == "HTTP 404: <h1>Not here</h1>"
    assert refusal_message(404, "") == "HTTP 404: no explanation given"


def test_created_answer_without_voice_is_named() -> None:
    with pytest.raises(ApiError, match="unexpected answer from the gateway \\(missing 'voice'\\)"):
        parse_created({"id": "x"})


async def test_retries_after_5xx_with_the_same_key(
    aiohttp_server: AiohttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "RETRY_DELAYS", (0.0,))
    keys: list[str] = []

    async def flaky(request: web.Request) -> web.Response:
        keys.append(request.headers["Idempotency-Key"])
        assert request.headers["Authorization"] == "Bearer tok"
        if len(keys) < 3:
            return web.Response(status=503, text="busy")
        return web.json_response(CREATED, status=201, headers={"Idempotent-Replayed": "true"})

    app = web.Application()
    app.router.add_post("/api/v1/alarms", flaky)
    server = await aiohttp_server(app)
    body = alarm_body("sos", datetime.now(UTC), None, None)
    alarm = await raise_alarm(str(server.make_url("/")), "tok", body)
    assert alarm.id == "01ALARM" and alarm.sip_uri == "sip:alarm@gw"
    assert alarm.headers == (("X-Alarm-Id", "01ALARM"),) and alarm.replayed
    assert len(keys) == 3 and len(set(keys)) == 1


async def test_4xx_is_not_retried(aiohttp_server: AiohttpServer) -> None:
    calls = 0

    async def refuse(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        body = {"error": {"status": 401, "code": "unauthorized", "message": "unknown token"}}
        return web.json_response(body, status=401)

    app = web.Application()
    app.router.add_post("/api/v1/alarms", refuse)
    server = await aiohttp_server(app)
    with pytest.raises(ApiError, match=r"^HTTP 401: unknown token$") as error:
        await raise_alarm(str(server.make_url("/")), "bad", {"type": "sos"})
    assert error.value.status == 401 and calls == 1


async def test_unreachable_gateway_fails_after_every_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api, "RETRY_DELAYS", (0.0,))
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ApiError, match=r"after 3 attempts: ClientConnectorError") as error:
        await raise_alarm(url, "tok", {"type": "sos"}, attempts=3)
    assert error.value.status is None
