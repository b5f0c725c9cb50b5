"""Console and review endpoints: access rules, doubt removal, figures, release on disconnect."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import cast

import pytest

from gateway.api.keys import VOICE
from gateway.api.request import csrf_token
from gateway.sip.errors import CallFailedError
from gateway.sip.supervisor import SipSupervisor
from gateway.store.records import Role
from gateway.web.live import WATCH
from tests.api.test_alarms import create
from tests.conftest import PASSWORD, Api

REVIEW = ("/api/v1/review/alarms", "/api/v1/review/figures", "/api/v1/review/alarms.csv")
OFFER = {"type": "offer", "sdp": "v=0\r\n"}


async def test_pages_are_served_with_a_strict_policy_and_need_a_session(api: Api) -> None:
    login = await api.client.get("/")
    assert login.status == 200
    assert "default-src 'none'" in login.headers["Content-Security-Policy"]
    assert "connect-src 'self'" in login.headers["Content-Security-Policy"]
    assert '<form id="login-form">' in await login.text()
    for page in ("/console", "/review"):
        answer = await api.client.get(page, allow_redirects=False)
        assert answer.status == 303
        assert answer.headers["Location"] == f"/?next={page}"
    assert (await api.client.get("/console", headers=api.staff())).status == 200
    assert (await api.client.get("/review", headers=api.staff(Role.SUPERVISOR))).status == 200
    script = await api.client.get("/static/console.js")
    assert script.content_type == "text/javascript"


@pytest.mark.parametrize("name", ["../install.py", "missing.js", "__init__.py", "..%2Fapp.py"])
async def test_only_console_assets_are_served(api: Api, name: str) -> None:
    answer = await api.client.get(f"/static/{name}")
    assert answer.status == 404


async def test_no_console_or_review_route_answers_without_a_session(api: Api) -> None:
    alarm_id = await create(api)
    for path in REVIEW:
        assert (await api.client.get(path)).status == 401
    for action, body in (
        ("audio/offer", OFFER),
        ("audio/mode", {"talk": True}),
        ("doubt-removed", {"verdict": "agent_safe"}),
    ):
        answer = await api.client.post(f"/api/v1/alarms/{alarm_id}/{action}", json=body)
        assert answer.status == 401, action
    assert (await api.client.delete(f"/api/v1/alarms/{alarm_id}/audio")).status == 401
    assert (await api.client.get("/api/v1/console/presence")).status == 401


async def test_operators_cannot_reach_review_and_admins_cannot_take_calls(api: Api) -> None:
    for path in REVIEW:
        answer = await api.client.get(path, headers=api.staff(Role.OPERATOR))
        assert answer.status == 403
        assert (await answer.json())["error"]["message"] == (
            "this needs the role supervisor, admin; you are operator"
        )
        assert (await api.client.get(path, headers=api.staff(Role.ADMIN))).status == 200
    assert (await api.client.get("/review", headers=api.staff(Role.OPERATOR))).status == 403
    assert (await api.client.get("/console", headers=api.staff(Role.ADMIN))).status == 403
    alarm_id = await create(api)
    answer = await api.client.post(
        f"/api/v1/alarms/{alarm_id}/audio/offer", json=OFFER, headers=api.staff(Role.ADMIN)
    )
    assert answer.status == 403


async def test_forged_cross_site_posts_are_refused(api: Api) -> None:
    alarm_id = await create(api)
    login = await api.client.post(
        "/api/v1/sessions", json={"name": "operator-1", "password": PASSWORD}
    )
    token = (await login.json())["token"]
    csrf = {"X-CSRF-Token": csrf_token(token)}
    assert (await api.client.post(f"/api/v1/alarms/{alarm_id}/accept", headers=csrf)).status == 200
    for action, body in (("doubt-removed", {"verdict": "false_alarm"}), ("audio/offer", OFFER)):
        forged = await api.client.post(f"/api/v1/alarms/{alarm_id}/{action}", json=body)
        assert forged.status == 403, action
        assert "X-CSRF-Token" in (await forged.json())["error"]["message"]
    forged = await api.client.delete(f"/api/v1/alarms/{alarm_id}/audio")
    assert forged.status == 403
    genuine = await api.client.post(
        f"/api/v1/alarms/{alarm_id}/doubt-removed", json={"verdict": "false_alarm"}, headers=csrf
    )
    assert genuine.status == 200


async def test_audio_is_for_the_handler_or_a_supervisor_of_an_open_alarm(api: Api) -> None:
    alarm_id = await create(api)
    base = f"/api/v1/alarms/{alarm_id}"
    op = api.staff(Role.OPERATOR)
    refused = await api.client.post(f"{base}/audio/offer", json=OFFER, headers=op)
    assert refused.status == 403  # nobody handles it yet, and operator-1 is not a supervisor
    await api.client.post(f"{base}/accept", headers=op)
    bad = await api.client.post(f"{base}/audio/offer", json=OFFER, headers=op)
    assert bad.status == 422
    assert (await bad.json())["error"]["message"] == "the offer has no audio section (m=audio)"
    mode = await api.client.post(f"{base}/audio/mode", json={"talk": True}, headers=op)
    assert mode.status == 409
    assert (await mode.json())["error"]["message"] == "no audio connection: send an offer first"
    await api.client.post(f"{base}/close", json={"outcome": "test_completed"}, headers=op)
    closed = await api.client.post(
        f"{base}/audio/offer", json=OFFER, headers=api.staff(Role.SUPERVISOR)
    )
    assert closed.status == 409


async def test_doubt_removal_then_figures_and_csv_for_the_supervisor(api: Api) -> None:
    alarm_id = await create(api)
    other = await create(api)
    base = f"/api/v1/alarms/{alarm_id}"
    op = api.staff(Role.OPERATOR)
    not_yet = await api.client.post(
        f"{base}/doubt-removed", json={"verdict": "false_alarm"}, headers=op
    )
    assert not_yet.status == 409
    await api.client.post(f"{base}/accept", headers=op)
    answer = await api.client.post(
        f"{base}/doubt-removed", json={"verdict": "false_alarm", "comment": "pocket"}, headers=op
    )
    entry = (await answer.json())["timeline"][-1]
    assert (entry["kind"], entry["actor"]) == ("noted", "operator-1")
    assert entry["data"] == {"kind": "doubt_removed", "text": "false_alarm: pocket"}
    await api.client.post(f"{base}/close", json={"outcome": "false_alarm"}, headers=op)

    sup = api.staff(Role.SUPERVISOR)
    figures = await (await api.client.get("/api/v1/review/figures", headers=sup)).json()
    total = figures["total"]
    assert (total["alarms"], total["to_accept"], total["accepted"], total["closed"]) == (2, 2, 1, 1)
    assert total["false_alarm_rate"] == 1.0
    assert total["accept_within_10s"] == 0.5  # the other alarm waits
    assert figures["group"] == "day" and sum(g["alarms"] for g in figures["groups"].values()) == 2
    listed = await (
        await api.client.get("/api/v1/review/alarms?outcome=false_alarm&device=PHONE", headers=sup)
    ).json()
    assert [a["id"] for a in listed["alarms"]] == [alarm_id]
    assert listed["alarms"][0]["accepted_by"] == "operator-1"
    text = await (await api.client.get("/api/v1/review/alarms.csv", headers=sup)).text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["alarm_id"] for r in rows} == {alarm_id, other}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-12-10&to=2026-12-01", "from (2026-12-10) is after to (2026-12-01)"),
        ("from=2024-01-01&to=2026-01-01", "a review covers at most 366 days, got 732"),
        ("tz=Mars/Olympus", "unknown time zone 'Mars/Olympus'; e.g. Europe/Paris"),
        ("type=meteor", "unknown type 'meteor'; expected one of sos, discreet, fall"),
        ("from=yesterday", "from and to must be dates like 2026-12-04"),
    ],
)
async def test_bad_review_queries_name_the_problem(api: Api, query: str, message: str) -> None:
    answer = await api.client.get(
        f"/api/v1/review/alarms?{query}", headers=api.staff(Role.SUPERVISOR)
    )
    assert answer.status == 422
    assert (await answer.json())["error"]["message"].startswith(message)


async def test_unknown_group_is_refused(api: Api) -> None:
    answer = await api.client.get(
        "/api/v1/review/figures?group=moon", headers=api.staff(Role.SUPERVISOR)
    )
    assert (await answer.json())["error"]["message"] == (
        "unknown group 'moon'; expected one of day, week, month, device, type"
    )


async def wait_for_state(api: Api, alarm_id: str, state: str) -> dict[str, object]:
    async with asyncio.timeout(5.0):
        while True:
            answer = await api.client.get(f"/api/v1/alarms/{alarm_id}", headers=api.staff())
            alarm: dict[str, object] = await answer.json()
            if alarm["state"] == state:
                return alarm
            await asyncio.sleep(0.05)


async def test_closing_the_console_releases_the_operators_alarms_after_the_grace(api: Api) -> None:
    api.client.app[WATCH].presence.grace_s = 0.3
    kept, released = await create(api), await create(api)
    op = api.staff(Role.OPERATOR)
    ws = await api.client.ws_connect("/api/v1/console/presence", headers=op)
    assert (await ws.receive_json())["user"] == "operator-1"
    await api.client.post(f"/api/v1/alarms/{released}/accept", headers=op)
    await api.client.post(f"/api/v1/alarms/{kept}/accept", headers=api.staff(Role.SUPERVISOR))
    await ws.close()
    alarm = await wait_for_state(api, released, "offered")
    timeline = alarm["timeline"]
    assert isinstance(timeline, list)
    released_entries = [e for e in timeline if e["kind"] == "released"]
    assert [(e["actor"], e["data"]) for e in released_entries] == [
        ("gateway", {"operator": "operator-1", "reason": "console disconnected"})
    ]
    still = await (await api.client.get(f"/api/v1/alarms/{kept}", headers=op)).json()
    assert (still["state"], still["handler"]) == ("accepted", "supervisor-1")


async def test_a_reload_within_the_grace_keeps_the_alarm(api: Api) -> None:
    api.client.app[WATCH].presence.grace_s = 0.5
    alarm_id = await create(api)
    op = api.staff(Role.OPERATOR)
    first = await api.client.ws_connect("/api/v1/console/presence", headers=op)
    await first.receive_json()
    await api.client.post(f"/api/v1/alarms/{alarm_id}/accept", headers=op)
    await first.close()
    second = await api.client.ws_connect("/api/v1/console/presence", headers=op)
    await second.receive_json()
    await asyncio.sleep(0.8)
    alarm = await (await api.client.get(f"/api/v1/alarms/{alarm_id}", headers=op)).json()
    assert (alarm["state"], alarm["handler"]) == ("accepted", "operator-1")
    await second.close()


class RingingSupervisor:
    """Stands in for the SIP supervisor: records call-backs, answers with a busy phone."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def callback(self, alarm_id: str, uri: str, attempts: int | None = None) -> None:
        self.calls.append((alarm_id, uri))
        raise CallFailedError("cb-1", 486, "Busy Here")


async def test_call_back_needs_the_handler_and_a_voice_channel(api: Api) -> None:
    alarm_id = await create(api)
    base = f"/api/v1/alarms/{alarm_id}"
    op = api.staff(Role.OPERATOR)
    refused = await api.client.post(f"{base}/callback", headers=op)
    assert refused.status == 409
    assert (await refused.json())["error"]["message"] == (
        "only the operator handling the alarm may call the phone back"
    )
    await api.client.post(f"{base}/accept", headers=op)
    api.client.app[VOICE].supervisor = None
    down = await api.client.post(f"{base}/callback", headers=op)
    assert down.status == 503
    assert (await down.json())["error"]["message"] == (
        "the SIP voice channel is not running on this gateway"
    )


async def test_a_failed_call_back_is_written_to_the_timeline(api: Api) -> None:
    alarm_id = await create(api)
    base = f"/api/v1/alarms/{alarm_id}"
    op = api.staff(Role.OPERATOR)
    await api.client.post(f"{base}/accept", headers=op)
    ringing = RingingSupervisor()
    api.client.app[VOICE].supervisor = cast(SipSupervisor, ringing)
    answer = await api.client.post(f"{base}/callback", headers=op)
    assert answer.status == 202
    for _ in range(60):
        alarm = await (await api.client.get(base, headers=op)).json()
        notes = [(e["actor"], e["data"]["text"]) for e in alarm["timeline"] if e["kind"] == "noted"]
        if len(notes) == 2:
            break
        await asyncio.sleep(0.05)
    assert notes == [
        ("operator-1", "call back requested"),
        ("gateway", "call back failed: call cb-1 failed: 486 Busy Here"),
    ]
    assert ringing.calls == [(alarm_id, "sip:p1@127.0.0.1")]
    api.client.app[VOICE].supervisor = None


async def test_the_admin_page_is_for_admins_only(api: Api) -> None:
    answer = await api.client.get("/admin", allow_redirects=False)
    assert (answer.status, answer.headers["Location"]) == (303, "/?next=/admin")
    for role in (Role.OPERATOR, Role.SUPERVISOR):
        answer = await api.client.get("/admin", headers=api.staff(role))
        assert answer.status == 403
        assert (await answer.json())["error"]["message"] == (
            f"this needs the role admin; you are {role.value}"
        )
    answer = await api.client.get("/admin", headers=api.staff(Role.ADMIN))
    assert answer.status == 200
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert '<script src="/static/admin.js" defer></script>' in await answer.text()
