"""Tenants, agents, devices and the CSV import through the API: rules, scope, audit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.api.keys import STORE, VOICE
from gateway.auth import token_hash
from gateway.backoffice.agents import DeviceSecrets
from gateway.sip.digest import ha1
from gateway.store.errors import Conflict
from gateway.store.records import Device, Role
from tests.conftest import Api

HEADER = "agent_id,name,tenant,site,agent_group,language,phone,safety_notes,device_id,sip_uri\n"
ADMIN_ROUTES = [
    ("GET", "/api/v1/tenants"),
    ("POST", "/api/v1/tenants"),
    ("GET", "/api/v1/tenants/north"),
    ("PATCH", "/api/v1/tenants/north"),
    ("GET", "/api/v1/agents"),
    ("POST", "/api/v1/agents"),
    ("GET", "/api/v1/agents/a1"),
    ("PATCH", "/api/v1/agents/a1"),
    ("DELETE", "/api/v1/agents/a1"),
    ("GET", "/api/v1/devices"),
    ("POST", "/api/v1/devices"),
    ("POST", "/api/v1/devices/phone-1/sip-credentials"),
    ("POST", "/api/v1/imports/agents"),
]


async def call(
    api: Api, method: str, path: str, body: dict[str, Any] | None = None, session: str = ""
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {session}"} if session else api.staff(Role.ADMIN)
    answer = await api.client.request(method, path, json=body, headers=headers)
    return answer.status, (await answer.json() if answer.status != 204 else None)


async def upload(api: Api, text: str, mode: str | None = None, session: str = "") -> Any:
    headers = {"Authorization": f"Bearer {session}"} if session else api.staff(Role.ADMIN)
    answer = await api.client.post(
        "/api/v1/imports/agents",
        data=text.encode(),
        params={"mode": mode} if mode else {},
        headers={**headers, "Content-Type": "text/csv"},
    )
    return answer.status, await answer.json()


async def tenant_admin(api: Api, tenants: frozenset[str]) -> str:
    """A session of an admin limited to ``tenants``."""
    store = api.client.app[STORE]
    now = datetime.now(UTC)
    await store.add_user("admin-north", Role.ADMIN, "x", now)
    user = await store.user_by_name("admin-north")
    assert user is not None
    await store.set_user_tenants(user.id, tenants)
    await store.add_session(token_hash("session-north"), user.id, now, now + timedelta(hours=1))
    return "session-north"


async def test_only_admins_reach_the_routes(api: Api) -> None:
    for method, path in ADMIN_ROUTES:
        answer = await api.client.request(method, path, json={}, headers=api.staff(Role.SUPERVISOR))
        assert answer.status == 403, path
        assert (await api.client.request(method, path, json={})).status == 401, path


async def test_tenants_with_licences_in_use(api: Api) -> None:
    assert await call(api, "POST", "/api/v1/tenants", {"name": "north", "licences": 1}) == (
        201,
        {
            "name": "north",
            "pilot": False,
            "licences": 1,
            "used": 0,
            "agents": 0,
            "sites": [],
            "groups": [],
        },
    )
    status, body = await call(api, "POST", "/api/v1/tenants", {"name": "north"})
    assert (status, body["error"]["message"]) == (409, "tenant 'north' already exists")
    agent = {"id": "a1", "name": "Ana", "tenant": "north", "site": "lyon", "agent_group": "night"}
    assert (await call(api, "POST", "/api/v1/agents", agent))[0] == 201
    assert (await call(api, "POST", "/api/v1/devices", {"id": "d1", "agent_id": "a1"}))[0] == 201
    status, north = await call(api, "GET", "/api/v1/tenants/north")
    assert (north["used"], north["agents"], north["sites"], north["groups"]) == (
        1,
        1,
        ["lyon"],
        ["night"],
    )
    status, body = await call(api, "PATCH", "/api/v1/tenants/north", {"licences": 0})
    assert (status, body["error"]["message"]) == (
        409,
        "tenant 'north' uses 1 licences; revoke devices before lowering it to 0",
    )
    status, body = await call(api, "PATCH", "/api/v1/tenants/north", {"licences": None})
    assert (status, body["licences"], body["pilot"]) == (200, None, False)
    status, listing = await call(api, "GET", "/api/v1/tenants")
    assert [t["name"] for t in listing["tenants"]] == ["north"]
    assert (await call(api, "GET", "/api/v1/tenants/nowhere"))[0] == 404


async def test_a_device_beyond_the_licences_is_refused(api: Api) -> None:
    await call(api, "POST", "/api/v1/tenants", {"name": "north", "licences": 2})
    await call(api, "POST", "/api/v1/agents", {"id": "a1", "name": "Ana", "tenant": "north"})
    for device_id in ("d1", "d2"):
        assert (await call(api, "POST", "/api/v1/devices", {"id": device_id, "agent_id": "a1"}))[
            0
        ] == 201
    status, body = await call(api, "POST", "/api/v1/devices", {"id": "d3", "agent_id": "a1"})
    assert (status, body["error"]["message"]) == (409, "tenant 'north' has 2 licences, all in use")
    # a revoked phone frees its licence
    assert (await call(api, "POST", "/api/v1/devices/d1/revoke"))[0] == 204
    assert (await call(api, "POST", "/api/v1/devices", {"id": "d3", "agent_id": "a1"}))[0] == 201
    store = api.client.app[STORE]
    with pytest.raises(Exception, match="tenant 'north' has 2 licences, all in use"):
        await store.add_device("d4", token_hash("t4"), datetime.now(UTC), tenant="north")


async def test_device_credentials_are_shown_once_and_work(api: Api) -> None:
    await call(api, "POST", "/api/v1/tenants", {"name": "north"})
    await call(
        api,
        "POST",
        "/api/v1/agents",
        {"id": "a1", "name": "Ana", "tenant": "north", "site": "lyon"},
    )
    body = {"id": "d1", "agent_id": "a1", "sip_uri": "sip:Ana@PBX.example", "dc09_account": "a1b2"}
    status, created = await call(api, "POST", "/api/v1/devices", body)
    assert status == 201
    device = created["device"]
    assert (device["tenant"], device["site"], device["sip_uri"], device["dc09_account"]) == (
        "north",
        "lyon",
        "sip:Ana@pbx.example",
        "A1B2",
    )
    sip = created["sip"]
    assert (sip["realm"], sip["sip_username"]) == ("alarm-gateway", "d1")
    store = api.client.app[STORE]
    assert await store.sip_credentials("d1") == (
        "d1",
        ha1("d1", "alarm-gateway", sip["sip_password"]),
    )
    alarm = {"type": "sos", "occurred_at": "2026-12-04T10:00:00+01:00"}
    raised = await api.client.post(
        "/api/v1/alarms", json=alarm, headers=api.device(created["token"])
    )
    assert raised.status == 201
    status, again = await call(api, "POST", "/api/v1/devices/d1/sip-credentials")
    assert status == 200 and again["sip_password"] != sip["sip_password"]
    assert await store.sip_credentials("d1") == (
        "d1",
        ha1("d1", "alarm-gateway", again["sip_password"]),
    )
    status, listing = await call(api, "GET", "/api/v1/devices")
    assert [d["id"] for d in listing["devices"]] == ["d1", "phone-1", "phone-2"]
    assert "token" not in listing["devices"][0] and "sip_password" not in listing["devices"][0]
    status, body = await call(api, "POST", "/api/v1/devices", {"id": "d2", "agent_id": "nobody"})
    assert (status, body["error"]["message"]) == (
        422,
        "invalid request: agent_id: no agent 'nobody'",
    )
    assert (await call(api, "POST", "/api/v1/devices/nope/sip-credentials"))[0] == 404


async def test_agents_change_and_delete(api: Api) -> None:
    await call(api, "POST", "/api/v1/tenants", {"name": "north"})
    agent = {"id": "a1", "name": "Ana", "tenant": "north", "phone": "+33 6 12 34 56 78"}
    status, created = await call(api, "POST", "/api/v1/agents", agent)
    assert (status, created["phone"], created["devices"]) == (201, "+33612345678", [])
    await call(api, "POST", "/api/v1/devices", {"id": "d1", "agent_id": "a1"})
    patch = {"site": "paris", "language": "en", "safety_notes": "asthma"}
    status, changed = await call(api, "PATCH", "/api/v1/agents/a1", patch)
    assert (status, changed["site"], changed["name"], changed["devices"]) == (
        200,
        "paris",
        "Ana",
        ["d1"],
    )
    device = await api.client.app[STORE].device_by_id("d1")
    assert device is not None and device.site == "paris"  # devices follow their agent
    status, body = await call(api, "PATCH", "/api/v1/agents/a1", {"language": "de"})
    assert status == 422 and "language" in body["error"]["message"]
    status, body = await call(api, "PATCH", "/api/v1/agents/a1", {"tenant": "south"})
    assert (status, body["error"]["message"]) == (422, "invalid request: tenant: unknown field")
    status, listing = await call(api, "GET", "/api/v1/agents")
    assert [(a["id"], a["devices"]) for a in listing["agents"]] == [("a1", ["d1"])]
    assert (await call(api, "DELETE", "/api/v1/agents/a1"))[0] == 204
    assert (await call(api, "GET", "/api/v1/agents/a1"))[0] == 404
    device = await api.client.app[STORE].device_by_id("d1")
    assert device is not None and device.agent_id is None
    status, body = await call(api, "POST", "/api/v1/agents", {**agent, "tenant": "west"})
    assert (status, body["error"]["message"]) == (
        409,
        "agent 'a1' already exists, or tenant 'west' does not",
    )


MIXED = (
    HEADER
    + "a1,Ana,north,lyon,,fr,+33612345678,diabetic,d1,sip:ana@pbx.example\n"
    + "a2,,north,,,,,,d2,\n"
    + "a3,Bo,north,,,,12,,d3,\n"
    + "a4,Cy,north,,,en,,,d4,\n"
)


async def test_a_file_with_bad_rows_imports_nothing_unless_partial(api: Api) -> None:
    await call(api, "POST", "/api/v1/tenants", {"name": "north"})
    status, body = await upload(api, MIXED)
    assert status == 422 and body["applied"] is False and body["credentials"] == []
    assert body["errors"] == [
        {"line": 3, "column": "name", "reason": "required; the cell is empty"},
        {
            "line": 4,
            "column": "phone",
            "reason": "expected an international number such as +33612345678, got '12'",
        },
    ]
    assert body["message"] == (
        "2 of 4 rows refused; nothing imported (a partial import takes the good rows alone)"
    )
    assert (await call(api, "GET", "/api/v1/agents"))[1]["agents"] == []
    status, checked = await upload(api, MIXED, "validate")
    assert (status, checked["applied"], checked["agents"]["created"]) == (200, False, 2)
    assert (await call(api, "GET", "/api/v1/agents"))[1]["agents"] == []
    status, partial = await upload(api, MIXED, "partial")
    assert (status, partial["applied"], len(partial["errors"])) == (200, True, 2)
    assert partial["devices"] == {"created": 2, "updated": 0, "unchanged": 0}
    assert [c["device_id"] for c in partial["credentials"]] == ["d1", "d4"]
    listing = (await call(api, "GET", "/api/v1/agents"))[1]["agents"]
    assert [(a["id"], a["devices"]) for a in listing] == [("a1", ["d1"]), ("a4", ["d4"])]
    alarm = {"type": "sos", "occurred_at": "2026-12-04T10:00:00+01:00"}
    token = partial["credentials"][0]["token"]
    raised = await api.client.post("/api/v1/alarms", json=alarm, headers=api.device(token))
    assert raised.status == 201
    entries = await api.client.app[STORE].audit_entries()
    imports = [e for e in entries if e.action == "admin.import.agents"]
    assert len(imports) == 1 and imports[0].details["devices"]["created"] == 2


async def test_importing_the_same_file_again_changes_nothing(api: Api) -> None:
    await call(api, "POST", "/api/v1/tenants", {"name": "north", "licences": 3})
    good = HEADER + "a1,Ana,north,lyon,,fr,,,d1,\na1,Ana,north,lyon,,fr,,,d2,\na2,Bo,north,,,,,,,\n"
    status, first = await upload(api, good)
    assert (status, first["agents"]["created"], len(first["credentials"])) == (200, 2, 2)
    status, again = await upload(api, good)
    assert status == 200 and again["credentials"] == []
    assert again["agents"] == {"created": 0, "updated": 0, "unchanged": 2}
    assert again["devices"] == {"created": 0, "updated": 0, "unchanged": 2}
    token = first["credentials"][0]["token"]
    alarm = {"type": "sos", "occurred_at": "2026-12-04T10:00:00+01:00"}
    raised = await api.client.post("/api/v1/alarms", json=alarm, headers=api.device(token))
    assert raised.status == 201  # the first token still works
    more = good + "a3,Cy,north,,,,,,d3,\na3,Cy,north,,,,,,d4,\n"
    status, refused = await upload(api, more)
    assert status == 422
    assert refused["errors"] == [
        {"line": 6, "column": "device_id", "reason": "tenant 'north' has 3 licences, all in use"}
    ]


async def test_the_import_reads_csv_only_and_names_a_bad_mode(api: Api) -> None:
    answer = await api.client.post(
        "/api/v1/imports/agents", json={"a": 1}, headers=api.staff(Role.ADMIN)
    )
    assert answer.status == 415
    status, body = await upload(api, HEADER, "everything")
    assert (status, body["error"]["message"]) == (
        422,
        "invalid request: mode: expected one of all, partial, validate, got 'everything'",
    )


async def test_a_tenant_admin_sees_and_changes_only_their_tenants(api: Api) -> None:
    for name in ("north", "south"):
        await call(api, "POST", "/api/v1/tenants", {"name": name})
        await call(api, "POST", "/api/v1/agents", {"id": f"{name}-1", "name": "X", "tenant": name})
    session = await tenant_admin(api, frozenset({"north"}))
    status, listing = await call(api, "GET", "/api/v1/agents", session=session)
    assert [a["id"] for a in listing["agents"]] == ["north-1"]
    assert (await call(api, "GET", "/api/v1/agents/south-1", session=session))[0] == 404
    assert (await call(api, "DELETE", "/api/v1/agents/south-1", session=session))[0] == 404
    assert (await call(api, "GET", "/api/v1/tenants/south", session=session))[0] == 404
    status, tenants = await call(api, "GET", "/api/v1/tenants", session=session)
    assert [t["name"] for t in tenants["tenants"]] == ["north"]
    assert (await call(api, "POST", "/api/v1/tenants", {"name": "x"}, session=session))[0] == 403
    patch = {"licences": 1000}
    assert (await call(api, "PATCH", "/api/v1/tenants/north", patch, session=session))[0] == 403
    status, body = await call(
        api, "POST", "/api/v1/devices", {"id": "d9", "agent_id": "south-1"}, session=session
    )
    assert (status, body["error"]["message"]) == (
        422,
        "invalid request: agent_id: no agent 'south-1'",
    )
    status, devices = await call(api, "GET", "/api/v1/devices", session=session)
    assert devices["devices"] == []  # phone-1 and phone-2 belong to no tenant
    status, imported = await upload(api, HEADER + "s2,Y,south,,,,,,,\n", session=session)
    assert imported["errors"] == [
        {"line": 2, "column": "tenant", "reason": "tenant 'south' is not one of your tenants"}
    ]


async def test_the_briefing_shows_the_agent_and_their_safety_notes(api: Api) -> None:
    await call(api, "POST", "/api/v1/tenants", {"name": "north"})
    csv = HEADER + 'a1,Ana Lopez,north,lyon,,en,+33612345678,"deaf; call by text first",d1,\n'
    status, imported = await upload(api, csv)
    assert status == 200
    token = imported["credentials"][0]["token"]
    alarm = {"type": "fall", "occurred_at": "2026-12-04T10:00:00+01:00"}
    raised = await api.client.post("/api/v1/alarms", json=alarm, headers=api.device(token))
    alarm_id = (await raised.json())["id"]
    answer = await api.client.get(
        f"/api/v1/alarms/{alarm_id}/briefing", headers=api.staff(Role.OPERATOR)
    )
    agent = (await answer.json())["agent"]
    assert {k: agent[k] for k in ("agent_id", "name", "phone", "safety_notes", "language")} == {
        "agent_id": "a1",
        "name": "Ana Lopez",
        "phone": "+33612345678",
        "safety_notes": "deaf; call by text first",
        "language": "en",
    }
    voice = api.client.app[VOICE]
    await voice._learn_language(alarm_id)  # as when the agent's call is answered
    assert voice.language(alarm_id) == "en"  # the device has none: the agent's


async def test_a_large_file_arrives_whole(api: Api) -> None:
    """Several network reads: 1,500 rows (about 90 kB) all checked and imported."""
    await call(api, "POST", "/api/v1/tenants", {"name": "north", "licences": 1500})
    rows = "".join(f"a{i},Agent {i},north,site-{i % 7},,fr,,,d{i},\n" for i in range(1500))
    status, body = await upload(api, HEADER + rows)
    assert (status, body["rows"], body["devices"]["created"]) == (200, 1500, 1500)
    status, north = await call(api, "GET", "/api/v1/tenants/north")
    assert (north["used"], len(north["sites"])) == (1500, 7)


async def test_two_devices_added_at_once_cannot_share_the_last_licence(api: Api) -> None:
    await call(api, "POST", "/api/v1/tenants", {"name": "north", "licences": 1})
    await call(api, "POST", "/api/v1/agents", {"id": "a1", "name": "Ana", "tenant": "north"})
    store, now = api.client.app[STORE], datetime.now(UTC)
    results = await asyncio.gather(
        *(
            store.add_agent_device(f"d{i}", "a1", DeviceSecrets.issue(f"d{i}", "r"), now)
            for i in range(2)
        ),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Device"]
    assert any(isinstance(r, Conflict) for r in results)
    assert any(isinstance(r, Device) and r.tenant == "north" for r in results)
