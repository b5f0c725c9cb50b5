"""Tenant isolation, route by route: staff of tenant ``alpha`` never reach tenant ``beta``.

Two tenants each have an agent, a phone, an alarm, a recording, a safety
instruction, an escalation contact and a staff user. For EVERY route the app
serves, ``TABLE`` says what happens when alpha's user (or phone) aims at beta's
object: refused (404 as if it did not exist, or 403), filtered (the answer holds
alpha's data and none of beta's), bound to the phone's own alarms, or not tenant
data at all (and why). A route missing from the table fails the suite.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gateway.api.keys import BUS, RECORDER, STORE
from gateway.api.schemas import alarm_message
from gateway.app import make_app
from gateway.auth import token_hash
from gateway.backoffice.agents import Agent, DeviceSecrets
from gateway.backoffice.rules import Contact, Scope
from gateway.config.schema import GatewaySection, Settings
from gateway.store.records import Role
from tests.conftest import AiohttpClient, Client

NOW = datetime.now(UTC)
OCCURRED = NOW.isoformat()


@dataclass(frozen=True)
class Refused:
    """Alpha's user aiming at beta's object gets this status, and nothing of beta's."""

    status: int


@dataclass(frozen=True)
class Filtered:
    """The answer (200) carries alpha's marker and none of beta's."""

    mine: str
    theirs: tuple[str, ...]


@dataclass(frozen=True)
class NotTenantData:
    """The route carries no tenant's data; ``why`` says what it is."""

    why: str


Expect = Refused | Filtered | NotTenantData


@dataclass(frozen=True)
class Row:
    """One attempt: who (a role of alpha's staff, or alpha's phone), where, with what body."""

    who: Role | str
    url: str
    expect: Expect
    body: Any = None
    content_type: str = "application/json"


PHONE = "phone"
CSV_HEADER = "agent_id,name,tenant,device_id"
BETA = ("beta", "b-phone", "Bob Beta")

# {b_alarm}, {a_alarm}: alarm ids filled in at run time.
TABLE: dict[tuple[str, str], Row] = {
    # --- phones: a device token reaches only its own alarms ---------------------------
    ("POST", "/api/v1/alarms"): Row(
        PHONE, "/api/v1/alarms", NotTenantData("a phone raises its own alarm, in its tenant")
    ),
    ("POST", "/api/v1/alarms/{alarm_id}/location"): Row(
        PHONE,
        "/api/v1/alarms/{b_alarm}/location",
        Refused(404),
        {"location": {"lat": 45.0, "lon": 5.0}},
    ),
    ("POST", "/api/v1/alarms/{alarm_id}/cancel"): Row(
        PHONE, "/api/v1/alarms/{b_alarm}/cancel", Refused(404)
    ),
    # --- alarms: operators and supervisors ---------------------------------------------
    ("POST", "/api/v1/alarms/{alarm_id}/accept"): Row(
        Role.OPERATOR, "/api/v1/alarms/{b_alarm}/accept", Refused(404)
    ),
    ("POST", "/api/v1/alarms/{alarm_id}/release"): Row(
        Role.OPERATOR, "/api/v1/alarms/{b_alarm}/release", Refused(404), {"reason": "x"}
    ),
    ("POST", "/api/v1/alarms/{alarm_id}/escalate"): Row(
        Role.OPERATOR, "/api/v1/alarms/{b_alarm}/escalate", Refused(404), {"target": "police"}
    ),
    ("POST", "/api/v1/alarms/{alarm_id}/notes"): Row(
        Role.SUPERVISOR, "/api/v1/alarms/{b_alarm}/notes", Refused(404), {"text": "x"}
    ),
    ("POST", "/api/v1/alarms/{alarm_id}/close"): Row(
        Role.OPERATOR,
        "/api/v1/alarms/{b_alarm}/close",
        Refused(404),
        {"outcome": "false_alarm"},
    ),
    ("GET", "/api/v1/alarms"): Row(
        Role.OPERATOR, "/api/v1/alarms", Filtered("{a_alarm}", ("{b_alarm}", "b-phone"))
    ),
    ("GET", "/api/v1/alarms/{alarm_id}"): Row(
        Role.OPERATOR, "/api/v1/alarms/{b_alarm}", Refused(404)
    ),
    ("GET", "/api/v1/alarms/{alarm_id}/briefing"): Row(
        Role.OPERATOR, "/api/v1/alarms/{b_alarm}/briefing", Refused(404)
    ),
    # --- sessions, system ----------------------------------------------------------------
    ("POST", "/api/v1/sessions"): Row(
        Role.OPERATOR, "/api/v1/sessions", NotTenantData("login: the session carries the tenants")
    ),
    ("DELETE", "/api/v1/sessions/current"): Row(
        Role.OPERATOR, "/api/v1/sessions/current", NotTenantData("logout of one's own session")
    ),
    ("GET", "/api/v1/events"): Row(
        Role.OPERATOR,
        "/api/v1/events",
        NotTenantData("WebSocket: filtered, see test_event_stream_carries_only_own_tenants"),
    ),
    ("POST", "/api/v1/acknowledgements"): Row(
        Role.OPERATOR,
        "/api/v1/acknowledgements",
        NotTenantData("a manager's link: its HMAC names one alarm and contact, no login"),
    ),
    ("GET", "/healthz"): Row(Role.OPERATOR, "/healthz", NotTenantData("liveness and a count")),
    ("GET", "/metrics"): Row(Role.OPERATOR, "/metrics", NotTenantData("counters, no records")),
    ("GET", "/api/openapi.json"): Row(Role.OPERATOR, "/", NotTenantData("the API description")),
    # --- SIP stations and console audio: only inside an alarm one may see --------------
    ("POST", "/api/v1/alarms/{alarm_id}/stations"): Row(
        Role.SUPERVISOR,
        "/api/v1/alarms/{b_alarm}/stations",
        Refused(404),
        {"uri": "sip:desk@127.0.0.1", "mode": "listen"},
    ),
    ("POST", "/api/v1/alarms/{alarm_id}/stations/{leg_id}/mode"): Row(
        Role.SUPERVISOR,
        "/api/v1/alarms/{b_alarm}/stations/leg-1/mode",
        Refused(404),
        {"mode": "talk"},
    ),
    ("DELETE", "/api/v1/alarms/{alarm_id}/stations/{leg_id}"): Row(
        Role.SUPERVISOR, "/api/v1/alarms/{b_alarm}/stations/leg-1", Refused(404)
    ),
    ("POST", "/api/v1/alarms/{alarm_id}/audio/offer"): Row(
        Role.SUPERVISOR,
        "/api/v1/alarms/{b_alarm}/audio/offer",
        Refused(404),
        {"type": "offer", "sdp": "v=0"},
    ),
    ("POST", "/api/v1/alarms/{alarm_id}/audio/mode"): Row(
        Role.SUPERVISOR, "/api/v1/alarms/{b_alarm}/audio/mode", Refused(404), {"talk": True}
    ),
    ("DELETE", "/api/v1/alarms/{alarm_id}/audio"): Row(
        Role.SUPERVISOR, "/api/v1/alarms/{b_alarm}/audio", Refused(404)
    ),
    ("POST", "/api/v1/alarms/{alarm_id}/callback"): Row(
        Role.OPERATOR, "/api/v1/alarms/{b_alarm}/callback", Refused(404)
    ),
    ("POST", "/api/v1/alarms/{alarm_id}/doubt-removed"): Row(
        Role.OPERATOR,
        "/api/v1/alarms/{b_alarm}/doubt-removed",
        Refused(404),
        {"verdict": "agent_safe"},
    ),
    ("GET", "/api/v1/console/presence"): Row(
        Role.OPERATOR,
        "/api/v1/console/presence",
        NotTenantData("WebSocket of one's own console presence"),
    ),
    # --- recordings and review ------------------------------------------------------------
    ("GET", "/api/v1/alarms/{alarm_id}/recordings"): Row(
        Role.SUPERVISOR, "/api/v1/alarms/{b_alarm}/recordings", Refused(404)
    ),
    ("GET", "/api/v1/alarms/{alarm_id}/recordings/{name}"): Row(
        Role.SUPERVISOR,
        "/api/v1/alarms/{b_alarm}/recordings/20261204T100000000000Z.wav",
        Refused(404),
    ),
    ("GET", "/api/v1/review/alarms"): Row(
        Role.SUPERVISOR, "/api/v1/review/alarms", Filtered("{a_alarm}", ("{b_alarm}", "b-phone"))
    ),
    ("GET", "/api/v1/review/figures"): Row(
        Role.SUPERVISOR, "/api/v1/review/figures?group=device", Filtered("a-phone", ("b-phone",))
    ),
    ("GET", "/api/v1/review/alarms.csv"): Row(
        Role.SUPERVISOR,
        "/api/v1/review/alarms.csv",
        Filtered("{a_alarm}", ("{b_alarm}", "b-phone")),
    ),
    ("GET", "/api/v1/audit"): Row(
        Role.SUPERVISOR, "/api/v1/audit", Filtered("a-phone", ("b-phone", "beta"))
    ),
    ("GET", "/api/v1/audit/verify"): Row(Role.ADMIN, "/api/v1/audit/verify", Refused(403)),
    # --- back office: instructions, contacts, devices ------------------------------------
    ("POST", "/api/v1/instructions"): Row(
        Role.ADMIN, "/api/v1/instructions", Refused(403), {"tenant": "beta", "text": "x"}
    ),
    ("GET", "/api/v1/instructions"): Row(
        Role.ADMIN, "/api/v1/instructions", Filtered("Alpha rule", ("Beta rule", "beta"))
    ),
    ("DELETE", "/api/v1/instructions/{instruction_id}"): Row(
        Role.ADMIN, "/api/v1/instructions/{b_instruction}", Refused(404)
    ),
    ("POST", "/api/v1/contacts"): Row(
        Role.ADMIN,
        "/api/v1/contacts",
        Refused(409),
        {"device_id": "b-phone", "name": "x", "webhook_url": "https://h.example/x"},
    ),
    ("GET", "/api/v1/contacts"): Row(
        Role.ADMIN, "/api/v1/contacts", Filtered("Alpha Boss", ("Beta Boss", "beta"))
    ),
    ("DELETE", "/api/v1/contacts/{contact_id}"): Row(
        Role.ADMIN, "/api/v1/contacts/{b_contact}", Refused(404)
    ),
    ("POST", "/api/v1/devices/{device_id}/rotate"): Row(
        Role.ADMIN, "/api/v1/devices/b-phone/rotate", Refused(404)
    ),
    ("POST", "/api/v1/devices/{device_id}/revoke"): Row(
        Role.ADMIN, "/api/v1/devices/b-phone/revoke", Refused(404)
    ),
    ("POST", "/api/v1/devices/{device_id}/sip-credentials"): Row(
        Role.ADMIN, "/api/v1/devices/b-phone/sip-credentials", Refused(404)
    ),
    ("GET", "/api/v1/devices"): Row(
        Role.ADMIN, "/api/v1/devices", Filtered("a-phone", ("b-phone", "beta"))
    ),
    ("POST", "/api/v1/devices"): Row(
        Role.ADMIN, "/api/v1/devices", Refused(422), {"id": "new-phone", "agent_id": "b-agent"}
    ),
    # --- tenants, agents, imports -------------------------------------------------------
    ("GET", "/api/v1/tenants"): Row(Role.ADMIN, "/api/v1/tenants", Filtered("alpha", ("beta",))),
    ("POST", "/api/v1/tenants"): Row(
        Role.ADMIN, "/api/v1/tenants", Refused(403), {"name": "gamma"}
    ),
    ("GET", "/api/v1/tenants/{name}"): Row(Role.ADMIN, "/api/v1/tenants/beta", Refused(404)),
    ("PATCH", "/api/v1/tenants/{name}"): Row(
        Role.ADMIN, "/api/v1/tenants/beta", Refused(403), {"pilot": True}
    ),
    ("GET", "/api/v1/agents"): Row(Role.ADMIN, "/api/v1/agents", Filtered("Ann Alpha", BETA)),
    ("POST", "/api/v1/agents"): Row(
        Role.ADMIN, "/api/v1/agents", Refused(403), {"id": "x", "name": "X", "tenant": "beta"}
    ),
    ("GET", "/api/v1/agents/{agent_id}"): Row(Role.ADMIN, "/api/v1/agents/b-agent", Refused(404)),
    ("PATCH", "/api/v1/agents/{agent_id}"): Row(
        Role.ADMIN, "/api/v1/agents/b-agent", Refused(404), {"name": "Renamed"}
    ),
    ("DELETE", "/api/v1/agents/{agent_id}"): Row(
        Role.ADMIN, "/api/v1/agents/b-agent", Refused(404)
    ),
    ("GET", "/api/v1/agents/{agent_id}/personal-data"): Row(
        Role.ADMIN, "/api/v1/agents/b-agent/personal-data", Refused(404)
    ),
    ("POST", "/api/v1/agents/{agent_id}/erase"): Row(
        Role.ADMIN, "/api/v1/agents/b-agent/erase", Refused(404)
    ),
    ("POST", "/api/v1/imports/agents"): Row(
        Role.ADMIN,
        "/api/v1/imports/agents",
        Refused(422),
        f"{CSV_HEADER}\nb-agent,Taken Over,beta,\n",
        "text/csv",
    ),
    # --- staff accounts ----------------------------------------------------------------
    ("GET", "/api/v1/users"): Row(
        Role.ADMIN, "/api/v1/users", Filtered("op-alpha", ("op-beta", "beta"))
    ),
    ("POST", "/api/v1/users"): Row(
        Role.ADMIN,
        "/api/v1/users",
        Refused(403),
        {"name": "x", "role": "operator", "password": "long enough", "tenants": ["beta"]},
    ),
    ("PUT", "/api/v1/users/{name}/tenants"): Row(
        Role.ADMIN, "/api/v1/users/op-beta/tenants", Refused(404), {"tenants": ["alpha"]}
    ),
    ("POST", "/api/v1/users/{name}/disable"): Row(
        Role.ADMIN, "/api/v1/users/op-beta/disable", Refused(404)
    ),
    # --- console pages: static files, the data comes from the routes above -----------------
    ("GET", "/"): Row(Role.OPERATOR, "/", NotTenantData("login page")),
    ("GET", "/console"): Row(Role.OPERATOR, "/console", NotTenantData("static page")),
    ("GET", "/review"): Row(Role.SUPERVISOR, "/review", NotTenantData("static page")),
    ("GET", "/admin"): Row(Role.ADMIN, "/admin", NotTenantData("static page")),
    ("GET", "/static/{name}"): Row(Role.OPERATOR, "/static/app.css", NotTenantData("asset")),
}


@dataclass
class World:
    client: Client
    ids: dict[str, str]
    sessions: dict[Role, str]
    phone_token: str

    def headers(self, who: Role | str) -> dict[str, str]:
        token = self.phone_token if who == PHONE else self.sessions[Role(who)]
        return {"Authorization": f"Bearer {token}"}

    def fill(self, text: str) -> str:
        return text.format(**self.ids)


async def _tenant_world(client: Client) -> World:
    """Two tenants with everything; alpha's staff of every role; beta's objects' ids."""
    app = client.app
    assert app is not None
    store = app[STORE]
    ids: dict[str, str] = {}
    tokens: dict[str, str] = {}
    for tenant, letter, person in (("alpha", "a", "Ann Alpha"), ("beta", "b", "Bob Beta")):
        await store.add_tenant(tenant, NOW)
        await store.add_agent(Agent(f"{letter}-agent", person, tenant, phone="+33600000000"), NOW)
        secrets = DeviceSecrets.issue(f"{letter}-phone", "gw")
        await store.add_agent_device(f"{letter}-phone", f"{letter}-agent", secrets, NOW)
        tokens[letter] = secrets.token
        raised = await client.post(
            "/api/v1/alarms",
            json={"type": "sos", "occurred_at": OCCURRED},
            headers={"Authorization": f"Bearer {secrets.token}"},
        )
        assert raised.status == 201
        ids[f"{letter}_alarm"] = alarm_id = (await raised.json())["id"]
        folder = app[RECORDER].directory / alarm_id
        folder.mkdir(parents=True)
        (folder / "20261204T100000000000Z.wav").write_bytes(b"RIFF")
        title = tenant.title()
        instruction = await store.add_instruction(
            Scope(tenant=tenant), f"{title} rule", frozenset(), NOW
        )
        ids[f"{letter}_instruction"] = str(instruction.id)
        contact = Contact(0, Scope(tenant=tenant), f"{title} Boss", webhook_url="https://h.example")
        ids[f"{letter}_contact"] = str((await store.add_contact(contact, NOW)).id)
        await store.add_user(
            f"op-{tenant}", Role.OPERATOR, "x", NOW, tenant_names=frozenset({tenant})
        )
    sessions = {}
    for role in Role:
        name = f"{role.value}-alpha"
        await store.add_user(name, role, "x", NOW, tenant_names=frozenset({"alpha"}))
        user = await store.user_by_name(name)
        assert user is not None
        sessions[role] = f"session-{name}"
        await store.add_session(token_hash(sessions[role]), user.id, NOW, NOW + timedelta(hours=1))
    await store.add_user("centre", Role.ADMIN, "x", NOW)
    centre = await store.user_by_name("centre")
    assert centre is not None
    await store.add_session(token_hash("session-centre"), centre.id, NOW, NOW + timedelta(hours=1))
    for phone in ("a-phone", "b-phone"):  # audit entries of both tenants
        answer = await client.post(
            f"/api/v1/devices/{phone}/sip-credentials",
            headers={"Authorization": "Bearer session-centre"},
        )
        assert answer.status == 200
    return World(client, ids, sessions, tokens["a"])


@pytest.fixture
async def world(settings: Settings, aiohttp_client: AiohttpClient) -> AsyncIterator[World]:
    client = await aiohttp_client(make_app(settings))
    yield await _tenant_world(client)


def _served(app: web.Application) -> set[tuple[str, str]]:
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


def test_every_route_has_an_isolation_row(tmp_path: Path) -> None:
    served = _served(make_app(Settings(gateway=GatewaySection(data_dir=tmp_path))))
    missing = sorted(served - TABLE.keys())
    stale = sorted(TABLE.keys() - served)
    assert not missing, f"routes without a tenant isolation row: {missing}"
    assert not stale, f"rows for routes the app no longer serves: {stale}"


def _body(row: Row, world: World) -> dict[str, Any]:
    if row.body is None:
        return {}
    if isinstance(row.body, str):
        return {"data": world.fill(row.body), "headers": {"Content-Type": row.content_type}}
    return {"data": json.dumps(row.body), "headers": {"Content-Type": row.content_type}}


async def test_cross_tenant_attempts_on_every_route_are_refused_or_filtered(world: World) -> None:
    """One pass over the whole table (one app: the setup is the expensive part)."""
    checked = 0
    for (method, _), row in TABLE.items():
        if isinstance(row.expect, NotTenantData):
            continue
        extra = _body(row, world)
        headers = {**world.headers(row.who), **extra.pop("headers", {})}
        url = world.fill(row.url)
        answer = await world.client.request(method, url, headers=headers, **extra)
        text = await answer.text()
        where = f"{method} {url} as alpha's {row.who}"
        if isinstance(row.expect, Refused):
            assert answer.status == row.expect.status, f"{where}: {answer.status} {text}"
        else:
            assert answer.status == 200, f"{where}: {answer.status} {text}"
            assert world.fill(row.expect.mine) in text, f"{where}: alpha's data missing"
        theirs = row.expect.theirs if isinstance(row.expect, Filtered) else ()
        for marker in (*(world.fill(m) for m in theirs), "Bob Beta", "Beta Boss", "Beta rule"):
            assert marker not in text, f"{where}: leaks {marker!r}"
        checked += 1
    assert checked >= 50
    store = world.client.app[STORE]  # nothing of beta's changed
    beta_alarm = await store.get_alarm(world.ids["b_alarm"])
    assert beta_alarm is not None and beta_alarm.state.value == "received"
    assert beta_alarm.handler is None and len(beta_alarm.timeline) == 1
    beta_phone = await store.device_by_id("b-phone")
    assert beta_phone is not None and beta_phone.revoked_at is None
    assert {c.name for c in await store.contacts()} == {"Alpha Boss", "Beta Boss"}
    assert len(await store.instructions()) == 2
    b_agent = await store.agent("b-agent")
    assert b_agent is not None and b_agent.name == "Bob Beta"
    assert (world.client.app[RECORDER].directory / world.ids["b_alarm"]).is_dir()
    op_beta = await store.user_by_name("op-beta")
    assert op_beta is not None and op_beta.tenants == {"beta"}


async def test_the_same_routes_reach_alpha_own_objects(world: World) -> None:
    """The refusals above are about the tenant, not the request: alpha's own ids work."""
    own = world.headers(Role.OPERATOR)
    for path in ("/api/v1/alarms/{a_alarm}", "/api/v1/alarms/{a_alarm}/briefing"):
        assert (await world.client.get(world.fill(path), headers=own)).status == 200
    supervisor = world.headers(Role.SUPERVISOR)
    listing = await world.client.get(
        world.fill("/api/v1/alarms/{a_alarm}/recordings"), headers=supervisor
    )
    assert await listing.json() == {"recordings": ["20261204T100000000000Z.wav"]}
    admin = world.headers(Role.ADMIN)
    assert (await world.client.get("/api/v1/agents/a-agent", headers=admin)).status == 200
    rotate = await world.client.post("/api/v1/devices/a-phone/rotate", headers=admin)
    assert rotate.status == 200
    accept = await world.client.post(world.fill("/api/v1/alarms/{a_alarm}/accept"), headers=own)
    assert accept.status == 200


async def _alarm_event(world: World, key: str) -> dict[str, Any]:
    """The message the gateway publishes when the alarm changes."""
    alarm = await world.client.app[STORE].get_alarm(world.ids[key])
    assert alarm is not None
    return alarm_message(alarm)


async def test_event_stream_carries_only_own_tenants(world: World) -> None:
    """Alarm changes, speech, offers and alerts of beta's alarms never reach alpha's console."""
    app = world.client.app
    a_alarm, b_alarm = world.ids["a_alarm"], world.ids["b_alarm"]
    ws = await world.client.ws_connect("/api/v1/events", headers=world.headers(Role.OPERATOR))
    assert (await ws.receive_json())["type"] == "hello"
    sent: list[dict[str, Any]] = [
        await _alarm_event(world, "b_alarm"),
        {"type": "transcript", "alarm_id": b_alarm, "text": "Bob Beta here"},
        {"type": "offer", "alarm_id": b_alarm, "members": ["op-alpha"]},
        {"type": "alert", "alarm_id": b_alarm, "alert": "supervisor"},
        {"type": "cue", "alarm_id": "no-such-alarm"},
        await _alarm_event(world, "a_alarm"),
        {"type": "transcript", "alarm_id": a_alarm, "text": "Ann here"},
        {"type": "system", "dc09_link_up": False, "reason": "down"},
    ]
    for message in sent:
        app[BUS].publish(message)
    received = [await ws.receive_json(timeout=5) for _ in range(3)]
    assert [m["type"] for m in received] == ["alarm", "transcript", "system"]
    assert all(m.get("alarm_id", m.get("alarm", {}).get("id")) in (a_alarm, None) for m in received)
    await ws.close()
    assert ws.closed
    centre = await world.client.ws_connect(
        "/api/v1/events", headers={"Authorization": "Bearer session-centre"}
    )
    await centre.receive_json()
    for message in sent:
        app[BUS].publish(message)
    everything = [await centre.receive_json(timeout=5) for _ in sent]
    assert len(everything) == len(sent)  # centre-wide staff see all, unknown alarms included
    await centre.close()


async def test_a_phone_acts_only_on_its_own_alarms(world: World) -> None:
    """Phones: the other tenant's alarm and any alarm of another phone are unknown to it."""
    phone = world.headers(PHONE)
    for path in ("/api/v1/alarms/{b_alarm}/cancel", "/api/v1/alarms/{b_alarm}/location"):
        body = {"location": {"lat": 1.0, "lon": 1.0}} if path.endswith("location") else {}
        answer = await world.client.post(world.fill(path), json=body, headers=phone)
        assert answer.status == 404
    for path in ("/api/v1/alarms", "/api/v1/alarms/{b_alarm}"):  # staff routes: not for phones
        assert (await world.client.get(world.fill(path), headers=phone)).status == 401
