"""Staff work an alarm: accept, escalate, note, close; roles and CSRF are enforced."""

from __future__ import annotations

from gateway.api.request import csrf_token
from gateway.store.records import Role
from tests.api.test_alarms import create
from tests.conftest import PASSWORD, Api


async def test_operator_works_an_alarm_to_closure(api: Api) -> None:
    alarm_id = await create(api)
    base = f"/api/v1/alarms/{alarm_id}"
    op = api.staff(Role.OPERATOR)
    assert (await api.client.post(f"{base}/accept", headers=op)).status == 200
    answer = await api.client.post(
        f"{base}/escalate", json={"target": "samu", "reference": "15-0042"}, headers=op
    )
    assert (await answer.json())["state"] == "escalated"
    await api.client.post(f"{base}/notes", json={"text": "ambulance on site"}, headers=op)
    answer = await api.client.post(
        f"{base}/close", json={"outcome": "intervention_dispatched"}, headers=op
    )
    alarm = await answer.json()
    assert alarm["state"] == "closed"
    assert alarm["outcome"] == "intervention_dispatched"
    assert [(e["kind"], e["actor"]) for e in alarm["timeline"]] == [
        ("raised", "device:phone-1"),
        ("accepted", "operator-1"),
        ("escalated", "operator-1"),
        ("noted", "operator-1"),
        ("closed", "operator-1"),
    ]
    assert alarm["timeline"][2]["data"] == {"target": "samu", "reference": "15-0042"}


async def test_two_operators_cannot_both_take_an_alarm(api: Api) -> None:
    alarm_id = await create(api)
    base = f"/api/v1/alarms/{alarm_id}"
    assert (await api.client.post(f"{base}/accept", headers=api.staff(Role.OPERATOR))).status == 200
    second = await api.client.post(f"{base}/accept", headers=api.staff(Role.SUPERVISOR))
    assert second.status == 409
    assert (await second.json())["error"]["message"] == ("cannot accept an alarm that is accepted")


async def test_admin_cannot_work_alarms_and_outcome_must_be_known(api: Api) -> None:
    alarm_id = await create(api)
    base = f"/api/v1/alarms/{alarm_id}"
    answer = await api.client.post(f"{base}/accept", headers=api.staff(Role.ADMIN))
    assert answer.status == 403
    assert (await answer.json())["error"]["message"] == (
        "this needs the role operator, supervisor; you are admin"
    )
    answer = await api.client.post(
        f"{base}/close", json={"outcome": "solved"}, headers=api.staff(Role.OPERATOR)
    )
    assert answer.status == 422


async def test_cookie_session_needs_the_csrf_header_to_change_anything(api: Api) -> None:
    alarm_id = await create(api)
    login = await api.client.post(
        "/api/v1/sessions", json={"name": "operator-1", "password": PASSWORD}
    )
    token = (await login.json())["token"]
    assert login.cookies["gw_csrf"].value == csrf_token(token)
    # reading with the cookie alone is fine
    assert (await api.client.get("/api/v1/alarms")).status == 200
    # a forged cross-site POST carries the cookie but cannot know the token
    forged = await api.client.post(f"/api/v1/alarms/{alarm_id}/accept")
    assert forged.status == 403
    assert (await forged.json())["error"]["message"] == (
        "missing or wrong X-CSRF-Token header (cross-site request?)"
    )
    genuine = await api.client.post(
        f"/api/v1/alarms/{alarm_id}/accept", headers={"X-CSRF-Token": csrf_token(token)}
    )
    assert genuine.status == 200
