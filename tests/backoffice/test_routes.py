"""The back office API: admins keep instructions, contacts and tokens; operators read briefings."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.api.request import csrf_token
from gateway.store.records import Role
from tests.conftest import PASSWORD, Api

ALARM: dict[str, Any] = {"type": "fall", "occurred_at": "2026-12-04T10:00:00+01:00"}
ADMIN_ROUTES = [
    ("POST", "/api/v1/instructions"),
    ("GET", "/api/v1/instructions"),
    ("DELETE", "/api/v1/instructions/1"),
    ("POST", "/api/v1/contacts"),
    ("GET", "/api/v1/contacts"),
    ("DELETE", "/api/v1/contacts/1"),
    ("POST", "/api/v1/devices/phone-1/rotate"),
    ("POST", "/api/v1/devices/phone-1/revoke"),
]


async def post(api: Api, path: str, body: dict[str, Any], role: Role = Role.ADMIN) -> Any:
    answer = await api.client.post(path, json=body, headers=api.staff(role))
    return answer.status, await answer.json()


async def raise_alarm(api: Api, token: str | None = None) -> str:
    answer = await api.client.post("/api/v1/alarms", json=ALARM, headers=api.device(token))
    assert answer.status == 201
    return str((await answer.json())["id"])


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR])
async def test_only_admins_reach_admin_routes(api: Api, method: str, path: str, role: Role) -> None:
    answer = await api.client.request(method, path, json={}, headers=api.staff(role))
    assert answer.status == 403
    assert (await answer.json())["error"]["message"] == (
        f"this needs the role admin; you are {role.value}"
    )
    assert (await api.client.request(method, path, json={})).status == 401


async def test_briefing_lists_the_applicable_entries_most_specific_first(api: Api) -> None:
    for body in (
        {"text": "everyone: call the agent back"},
        {"text": "for phone-1 on a fall", "device_id": "phone-1", "alarm_types": ["fall"]},
        {"text": "only for phone-2", "device_id": "phone-2"},
        {"text": "phone-1 on sos only", "device_id": "phone-1", "alarm_types": ["sos"]},
    ):
        assert (await post(api, "/api/v1/instructions", body))[0] == 201
    status, ana = await post(
        api,
        "/api/v1/contacts",
        {"name": "Ana", "role": "site manager", "phone": "+33 6 12 34 56 78", "rank": 1},
    )
    assert status == 201 and ana["level"] == "all" and ana["zone"] == "Europe/Paris"
    await post(
        api,
        "/api/v1/contacts",
        {"name": "Bob", "sip_uri": "sip:bob@pbx.example", "hours": ["mon-sun 00:00-00:00"]},
    )
    alarm_id = await raise_alarm(api)
    answer = await api.client.get(
        f"/api/v1/alarms/{alarm_id}/briefing", headers=api.staff(Role.OPERATOR)
    )
    assert answer.status == 200
    briefing = await answer.json()
    assert briefing["agent"]["device_id"] == "phone-1"
    assert [i["text"] for i in briefing["instructions"]] == [
        "for phone-1 on a fall",
        "everyone: call the agent back",
    ]
    assert [(c["name"], c["available"]) for c in briefing["contacts"]] == [
        ("Bob", True),
        ("Ana", True),
    ]
    assert briefing["contacts"][0]["hours"] == ["mon,tue,wed,thu,fri,sat,sun 00:00-00:00"]
    admin = await api.client.get(
        f"/api/v1/alarms/{alarm_id}/briefing", headers=api.staff(Role.ADMIN)
    )
    assert admin.status == 403
    missing = await api.client.get("/api/v1/alarms/nope/briefing", headers=api.staff())
    assert missing.status == 404


async def test_entries_list_and_delete(api: Api) -> None:
    _, added = await post(api, "/api/v1/instructions", {"text": "x", "site": "lyon"})
    listed = await api.client.get("/api/v1/instructions", headers=api.staff(Role.ADMIN))
    assert (await listed.json())["instructions"] == [added]
    assert added["level"] == "site"
    path = f"/api/v1/instructions/{added['id']}"
    assert (await api.client.delete(path, headers=api.staff(Role.ADMIN))).status == 204
    again = await api.client.delete(path, headers=api.staff(Role.ADMIN))
    assert again.status == 404
    assert (await again.json())["error"]["message"] == f"no instruction {added['id']}"
    _, contact = await post(
        api, "/api/v1/contacts", {"name": "C", "webhook_url": "https://h.example/x"}
    )
    listed = await api.client.get("/api/v1/contacts", headers=api.staff(Role.ADMIN))
    assert (await listed.json())["contacts"] == [contact]
    path = f"/api/v1/contacts/{contact['id']}"
    assert (await api.client.delete(path, headers=api.staff(Role.ADMIN))).status == 204


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("instructions", {"text": ""}, "text: String should have at least 1 character"),
        (
            "instructions",
            {"text": "x", "alarm_types": ["meteor"]},
            "alarm_types.0: Input should be",
        ),
        ("instructions", {"text": "x", "site": "a b"}, "site: Value error, expected a name"),
        ("instructions", {"text": "x", "colour": "red"}, "colour: unknown field"),
        ("contacts", {"name": "A"}, "give at least one of phone, sip_uri or webhook_url"),
        ("contacts", {"name": "A", "phone": "call me"}, "phone: String should match pattern"),
        ("contacts", {"name": "A", "sip_uri": "bob@pbx"}, "sip_uri: String should match pattern"),
        ("contacts", {"name": "A", "phone": "112", "hours": ["mon-fri"]}, "hours.0: Value error"),
        (
            "contacts",
            {"name": "A", "phone": "112", "zone": "Mars/Base"},
            "zone: Value error, unknown",
        ),
        ("contacts", {"name": "A", "phone": "112", "rank": -1}, "rank: Input should be greater"),
    ],
)
async def test_bad_entries_are_refused_naming_the_field(
    api: Api, path: str, body: dict[str, Any], message: str
) -> None:
    status, answer = await post(api, f"/api/v1/{path}", body)
    assert status == 422
    assert message in answer["error"]["message"]


async def test_entry_for_an_unknown_device_is_a_conflict(api: Api) -> None:
    status, answer = await post(api, "/api/v1/instructions", {"text": "x", "device_id": "ghost"})
    assert status == 409 and "no device 'ghost'" in answer["error"]["message"]


async def test_rotation_refuses_the_old_token_at_once(api: Api) -> None:
    await raise_alarm(api)  # the old token is now in the device cache
    status, answer = await post(api, "/api/v1/devices/phone-1/rotate", {})
    assert status == 200 and answer["device_id"] == "phone-1"
    old = await api.client.post("/api/v1/alarms", json=ALARM, headers=api.device())
    assert old.status == 401
    await raise_alarm(api, answer["token"])
    status, _ = await post(api, "/api/v1/devices/nobody/rotate", {})
    assert status == 404


async def test_revoked_device_alarms_are_refused_with_401(api: Api) -> None:
    await raise_alarm(api)
    answer = await api.client.post("/api/v1/devices/phone-1/revoke", headers=api.staff(Role.ADMIN))
    assert answer.status == 204
    refused = await api.client.post("/api/v1/alarms", json=ALARM, headers=api.device())
    assert refused.status == 401
    assert "revoked" in (await refused.json())["error"]["message"]
    status, answer = await post(api, "/api/v1/devices/phone-1/rotate", {})
    assert status == 409 and "is revoked" in answer["error"]["message"]
    await raise_alarm(api, api.other_device_token)  # other phones are untouched


async def test_cookie_sessions_need_the_csrf_header(api: Api) -> None:
    login = await api.client.post(
        "/api/v1/sessions", json={"name": "admin-1", "password": PASSWORD}
    )
    token = (await login.json())["token"]
    forged = await api.client.post("/api/v1/instructions", json={"text": "x"})
    assert forged.status == 403
    genuine = await api.client.post(
        "/api/v1/instructions", json={"text": "x"}, headers={"X-CSRF-Token": csrf_token(token)}
    )
    assert genuine.status == 201
