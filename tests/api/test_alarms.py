"""The alarm API as a phone and a console use it, including every way to get it wrong."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import WSServerHandshakeError

from gateway.api.keys import STORE
from gateway.store.records import Role
from tests.conftest import Api

ALARM: dict[str, Any] = {
    "type": "fall",
    "occurred_at": "2026-12-04T10:00:00+01:00",
    "location": {"lat": 48.8566, "lon": 2.3522, "accuracy_m": 12.5},
    "battery_pct": 64,
}


async def alarm_count(api: Api) -> int:
    return len(await api.client.app[STORE].list_alarms(limit=1000))


async def test_posted_alarm_reads_back_with_type_position_and_timeline(api: Api) -> None:
    answer = await api.client.post("/api/v1/alarms", json=ALARM, headers=api.device())
    assert answer.status == 201
    created = await answer.json()
    alarm_id = created["id"]
    assert created["voice"] == {
        "sip_uri": "sip:alarm@127.0.0.1:5070",
        "headers": {"X-Alarm-Id": alarm_id},
    }
    assert answer.headers["Location"] == f"/api/v1/alarms/{alarm_id}"

    answer = await api.client.get(f"/api/v1/alarms/{alarm_id}", headers=api.staff())
    assert answer.status == 200
    alarm = await answer.json()
    assert alarm["type"] == "fall"
    assert alarm["state"] == "received"
    assert alarm["device_id"] == "phone-1"
    assert alarm["location"] == {"lat": 48.8566, "lon": 2.3522, "accuracy_m": 12.5}
    assert alarm["battery_pct"] == 64
    assert alarm["occurred_at"] == "2026-12-04T09:00:00Z"
    [entry] = alarm["timeline"]
    assert entry["kind"] == "raised"
    assert entry["actor"] == "device:phone-1"
    assert entry["data"]["alarm_type"] == "fall"


async def test_retry_with_same_idempotency_key_returns_the_same_alarm(api: Api) -> None:
    headers = {**api.device(), "Idempotency-Key": "9f1c-retry"}
    first = await api.client.post("/api/v1/alarms", json=ALARM, headers=headers)
    second = await api.client.post("/api/v1/alarms", json=ALARM, headers=headers)
    assert first.status == second.status == 201
    assert (await first.json())["id"] == (await second.json())["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await alarm_count(api) == 1


async def test_same_key_from_another_device_is_another_alarm(api: Api) -> None:
    key = {"Idempotency-Key": "shared"}
    one = await api.client.post("/api/v1/alarms", json=ALARM, headers={**api.device(), **key})
    two = await api.client.post(
        "/api/v1/alarms", json=ALARM, headers={**api.device(api.other_device_token), **key}
    )
    assert (await one.json())["id"] != (await two.json())["id"]


async def test_same_key_with_different_body_is_a_conflict(api: Api) -> None:
    headers = {**api.device(), "Idempotency-Key": "k"}
    await api.client.post("/api/v1/alarms", json=ALARM, headers=headers)
    answer = await api.client.post("/api/v1/alarms", json={**ALARM, "type": "sos"}, headers=headers)
    assert answer.status == 409
    body = await answer.json()
    assert body["error"]["message"] == (
        "Idempotency-Key was already used for a different alarm request"
    )
    assert await alarm_count(api) == 1


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b'{"type": "sos", "occurred_at": ', 400, "malformed JSON at line 1 column 32"),
        (b"\xff\xfe", 400, "request body is not UTF-8 text"),
        (b"[1, 2]", 400, "expected a JSON object, got list"),
        (
            {**ALARM, "type": "earthquake"},
            422,
            "type: Input should be 'sos', 'discreet', 'fall', 'verticality', 'no_movement', "
            "'tear_off', 'missed_check_in', 'link_lost', 'low_battery' or 'test', "
            "got 'earthquake'",
        ),
        (
            {**ALARM, "location": {"lat": 91, "lon": 2.0}},
            422,
            "location.lat: Input should be less than or equal to 90, got 91",
        ),
        ({**ALARM, "battery_pct": -3}, 422, "battery_pct: Input should be greater than"),
        ({"type": "sos"}, 422, "occurred_at: Field required"),
        (
            {**ALARM, "occurred_at": "2026-12-04T10:00:00"},
            422,
            "occurred_at: Input should have timezone info",
        ),
        ({**ALARM, "colour": "red"}, 422, "colour: unknown field"),
    ],
)
async def test_bad_input_is_refused_naming_the_problem_and_stores_nothing(
    api: Api, data: dict[str, Any] | bytes, status: int, message: str
) -> None:
    if isinstance(data, bytes):
        headers = {**api.device(), "Content-Type": "application/json"}
        answer = await api.client.post("/api/v1/alarms", data=data, headers=headers)
    else:
        answer = await api.client.post("/api/v1/alarms", json=data, headers=api.device())
    assert answer.status == status
    body = await answer.json()
    assert message in body["error"]["message"]
    assert await alarm_count(api) == 0


async def test_missing_token_is_401(api: Api) -> None:
    answer = await api.client.post("/api/v1/alarms", json=ALARM)
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    body = await answer.json()
    assert body["error"]["message"] == (
        "missing device token: send 'Authorization: Bearer <token>'"
    )
    assert await alarm_count(api) == 0


async def test_wrong_token_is_401(api: Api) -> None:
    answer = await api.client.post("/api/v1/alarms", json=ALARM, headers=api.device("nope"))
    assert answer.status == 401
    body = await answer.json()
    assert body["error"]["message"] == "device token is not valid (unknown or revoked)"
    assert await alarm_count(api) == 0


async def test_staff_session_is_not_a_device_token(api: Api) -> None:
    answer = await api.client.post("/api/v1/alarms", json=ALARM, headers=api.staff(Role.ADMIN))
    assert answer.status == 401


async def test_oversized_body_is_413(api: Api) -> None:
    big = {**ALARM, "padding": "x" * 20000}
    answer = await api.client.post("/api/v1/alarms", json=big, headers=api.device())
    assert answer.status == 413
    body = await answer.json()
    assert "the limit is 16384" in body["error"]["message"]
    assert await alarm_count(api) == 0


async def test_not_json_content_type_is_415(api: Api) -> None:
    answer = await api.client.post("/api/v1/alarms", data="type=sos", headers=api.device())
    assert answer.status == 415
    body = await answer.json()
    assert body["error"]["message"].startswith("expected Content-Type application/json")


async def test_long_idempotency_key_is_refused(api: Api) -> None:
    headers = {**api.device(), "Idempotency-Key": "k" * 129}
    answer = await api.client.post("/api/v1/alarms", json=ALARM, headers=headers)
    assert answer.status == 422
    assert await alarm_count(api) == 0


async def create(api: Api) -> str:
    answer = await api.client.post("/api/v1/alarms", json=ALARM, headers=api.device())
    return str((await answer.json())["id"])


async def test_location_update_moves_the_alarm_and_lands_in_the_timeline(api: Api) -> None:
    alarm_id = await create(api)
    answer = await api.client.post(
        f"/api/v1/alarms/{alarm_id}/location",
        json={"location": {"lat": 48.86, "lon": 2.36, "accuracy_m": 5}},
        headers=api.device(),
    )
    assert answer.status == 200
    alarm = await answer.json()
    assert alarm["location"] == {"lat": 48.86, "lon": 2.36, "accuracy_m": 5.0}
    assert [e["kind"] for e in alarm["timeline"]] == ["raised", "location_updated"]


async def test_another_device_cannot_touch_my_alarm(api: Api) -> None:
    alarm_id = await create(api)
    answer = await api.client.post(
        f"/api/v1/alarms/{alarm_id}/cancel", headers=api.device(api.other_device_token)
    )
    assert answer.status == 404


async def test_agent_cancel_closes_an_unhandled_alarm_and_then_refuses_more(api: Api) -> None:
    alarm_id = await create(api)
    answer = await api.client.post(f"/api/v1/alarms/{alarm_id}/cancel", headers=api.device())
    alarm = await answer.json()
    assert alarm["state"] == "closed"
    assert alarm["outcome"] == "cancelled_by_agent"
    again = await api.client.post(f"/api/v1/alarms/{alarm_id}/cancel", headers=api.device())
    assert again.status == 409
    assert (await again.json())["error"]["message"] == "cannot cancel an alarm that is closed"


async def test_reading_alarms_needs_a_staff_session(api: Api) -> None:
    assert (await api.client.get("/api/v1/alarms")).status == 401
    assert (await api.client.get("/api/v1/alarms", headers=api.device())).status == 401
    for role in Role:
        assert (await api.client.get("/api/v1/alarms", headers=api.staff(role))).status == 200


async def test_list_filters_by_state_and_validates_the_query(api: Api) -> None:
    open_id = await create(api)
    closed_id = await create(api)
    await api.client.post(f"/api/v1/alarms/{closed_id}/cancel", headers=api.device())
    answer = await api.client.get("/api/v1/alarms?state=received", headers=api.staff())
    assert [a["id"] for a in (await answer.json())["alarms"]] == [open_id]
    answer = await api.client.get("/api/v1/alarms", headers=api.staff())
    assert [a["id"] for a in (await answer.json())["alarms"]] == [closed_id, open_id]
    bad = await api.client.get("/api/v1/alarms?state=lost", headers=api.staff())
    assert bad.status == 422
    assert (await bad.json())["error"]["message"].startswith("unknown state 'lost'")
    bad = await api.client.get("/api/v1/alarms?limit=0", headers=api.staff())
    assert (await bad.json())["error"]["message"] == "limit must be between 1 and 1000, got 0"


async def test_unknown_alarm_is_404(api: Api) -> None:
    answer = await api.client.get("/api/v1/alarms/01NOPE", headers=api.staff())
    assert answer.status == 404
    assert (await answer.json())["error"]["message"] == "no alarm '01NOPE'"


async def test_wrong_password_is_refused(api: Api) -> None:
    answer = await api.client.post(
        "/api/v1/sessions", json={"name": "operator-1", "password": "guess"}
    )
    assert answer.status == 401
    answer = await api.client.post("/api/v1/sessions", json={"name": "ghost", "password": "x"})
    assert answer.status == 401


async def test_login_cookie_is_httponly_and_samesite(api: Api) -> None:
    answer = await api.client.post(
        "/api/v1/sessions", json={"name": "operator-1", "password": "correct horse battery"}
    )
    cookie = answer.cookies["gw_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"


async def test_event_stream_pushes_new_alarms(api: Api) -> None:
    async with api.client.ws_connect("/api/v1/events", headers=api.staff()) as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello == {"type": "hello", "user": "operator-1", "role": "operator"}
        alarm_id = await create(api)
        message = await ws.receive_json(timeout=5)
        assert message["type"] == "alarm"
        assert message["alarm"]["id"] == alarm_id
        assert message["entry"]["kind"] == "raised"


async def test_event_stream_refuses_anonymous(api: Api) -> None:
    answer = await api.client.get("/api/v1/events")
    assert answer.status == 401
    with pytest.raises(WSServerHandshakeError, match="401"):
        await api.client.ws_connect("/api/v1/events")


async def test_unknown_route_is_json_404(api: Api) -> None:
    answer = await api.client.get("/api/v1/nothing")
    assert answer.status == 404
    assert (await answer.json())["error"]["message"] == "no route GET /api/v1/nothing"
