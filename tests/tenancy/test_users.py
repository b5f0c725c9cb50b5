"""Staff accounts API and CLI: roles, tenants, disabling; tenant admins stay within theirs."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.api.keys import STORE
from gateway.cli import _open_store, main
from gateway.config.load import load_settings
from gateway.store.records import Role
from tests.conftest import PASSWORD, Api

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
USERS = "/api/v1/users"


async def admin_of(api: Api, *tenants: str) -> dict[str, str]:
    """Headers of the fixture's admin, restricted to ``tenants`` (none: centre-wide)."""
    store = api.client.app[STORE]
    for name in tenants:
        if await store.tenant(name) is None:
            await store.add_tenant(name, NOW)
    admin = await store.user_by_name("admin-1")
    assert admin is not None
    await store.set_user_tenants(admin.id, frozenset(tenants))
    return api.staff(Role.ADMIN)


async def names(api: Api, headers: dict[str, str]) -> list[str]:
    answer = await api.client.get(USERS, headers=headers)
    assert answer.status == 200
    return [u["name"] for u in (await answer.json())["users"]]


async def test_centre_admin_adds_a_tenant_operator_who_logs_in_and_sees_only_that_tenant(
    api: Api,
) -> None:
    admin = await admin_of(api)
    await api.client.app[STORE].add_tenant("north", NOW)
    body = {"name": "nina", "role": "operator", "password": PASSWORD, "tenants": ["north"]}
    added = await api.client.post(USERS, json=body, headers=admin)
    assert added.status == 201
    assert await added.json() == {
        "name": "nina",
        "role": "operator",
        "tenants": ["north"],
        "disabled": False,
    }
    login = await api.client.post("/api/v1/sessions", json={"name": "nina", "password": PASSWORD})
    assert login.status == 201
    user = await api.client.app[STORE].user_by_name("nina")
    assert user is not None and user.tenants == {"north"}
    again = await api.client.post(USERS, json=body, headers=admin)
    assert again.status == 409
    unknown = await api.client.post(
        USERS, json={**body, "name": "olga", "tenants": ["nowhere"]}, headers=admin
    )
    assert unknown.status == 409
    assert "no tenant 'nowhere'" in (await unknown.json())["error"]["message"]
    assert await api.client.app[STORE].user_by_name("olga") is None  # nothing half-made


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "role": "operator", "password": "short"}, "password"),
        ({"name": "x y", "role": "operator", "password": PASSWORD}, "name"),
        ({"name": "x", "role": "boss", "password": PASSWORD}, "role"),
        ({"name": "x", "role": "operator", "password": PASSWORD, "tenants": ["a b"]}, "tenants.0"),
    ],
)
async def test_bad_user_bodies_name_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    answer = await api.client.post(USERS, json=body, headers=api.staff(Role.ADMIN))
    assert answer.status == 422
    assert [d["field"] for d in (await answer.json())["error"]["details"]] == [field]


async def test_tenant_admin_manages_only_users_within_their_tenants(api: Api) -> None:
    store = api.client.app[STORE]
    for tenant in ("north", "south"):
        await store.add_tenant(tenant, NOW)
    await store.add_user("sam", Role.OPERATOR, "x", NOW, tenant_names=frozenset({"south"}))
    await store.add_user("nick", Role.OPERATOR, "x", NOW, tenant_names=frozenset({"north"}))
    admin = await admin_of(api, "north")
    assert await names(api, admin) == ["admin-1", "nick"]  # centre-wide staff are not theirs
    for tenants in ([], ["south"], ["north", "south"]):
        body = {"name": "new", "role": "operator", "password": PASSWORD, "tenants": tenants}
        refused = await api.client.post(USERS, json=body, headers=admin)
        assert refused.status == 403, tenants
        assert (await refused.json())["error"]["message"].startswith("tenants:")
    body = {"name": "new", "role": "supervisor", "password": PASSWORD, "tenants": ["north"]}
    assert (await api.client.post(USERS, json=body, headers=admin)).status == 201
    for name in ("sam", "operator-1"):  # another tenant's user, a centre-wide one: 404
        path = f"{USERS}/{name}/tenants"
        answer = await api.client.put(path, json={"tenants": ["north"]}, headers=admin)
        assert answer.status == 404
        assert (await api.client.post(f"{USERS}/{name}/disable", headers=admin)).status == 404
    grab = await api.client.put(f"{USERS}/nick/tenants", json={"tenants": ["south"]}, headers=admin)
    assert grab.status == 403
    assert (await store.user_by_name("sam")) is not None


async def test_tenants_change_and_disable_take_effect_at_once(api: Api) -> None:
    store = api.client.app[STORE]
    for tenant in ("north", "south"):
        await store.add_tenant(tenant, NOW)
    admin = await admin_of(api)
    changed = await api.client.put(
        f"{USERS}/operator-1/tenants", json={"tenants": ["south", "north"]}, headers=admin
    )
    assert changed.status == 200
    assert (await changed.json())["tenants"] == ["north", "south"]
    operator = await store.user_by_name("operator-1")
    assert operator is not None and operator.tenants == {"north", "south"}
    assert (await api.client.get("/api/v1/alarms", headers=api.staff())).status == 200
    disabled = await api.client.post(f"{USERS}/operator-1/disable", headers=admin)
    assert disabled.status == 204
    assert (await api.client.get("/api/v1/alarms", headers=api.staff())).status == 401
    assert (await api.client.post(f"{USERS}/operator-1/disable", headers=admin)).status == 204
    listed = await api.client.get(USERS, headers=admin)
    flags = {u["name"]: u["disabled"] for u in (await listed.json())["users"]}
    assert flags["operator-1"] is True and flags["admin-1"] is False
    myself = await api.client.post(f"{USERS}/admin-1/disable", headers=admin)
    assert myself.status == 409
    others = await api.client.get(USERS, headers=api.staff(Role.SUPERVISOR))
    assert others.status == 403


def test_cli_adds_a_user_with_repeated_tenants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "gw.toml"
    cfg.write_text(f'[gateway]\ndata_dir = "{tmp_path / "data"}"\n')
    for tenant in ("north", "east"):
        assert main(["tenant", "add", tenant, "--config", str(cfg)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
    argv = ["user", "add", "ann", "--role", "supervisor", "--password-stdin"]
    tenants = ["--tenant", "north", "--tenant", "east"]
    assert main([*argv, *tenants, "--config", str(cfg)]) == 0
    assert "seeing east, north" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
    refused = ["user", "add", "bob", "--role", "operator", "--password-stdin", "--tenant", "west"]
    assert main([*refused, "--config", str(cfg)]) == 1
    assert "no tenant 'west'" in capsys.readouterr().err

    async def read() -> tuple[frozenset[str] | None, bool]:
        store = await _open_store(load_settings(cfg))
        try:
            ann, bob = await store.user_by_name("ann"), await store.user_by_name("bob")
        finally:
            await store.close()
        return (None if ann is None else ann.tenants), bob is None

    assert asyncio.run(read()) == (frozenset({"north", "east"}), True)
