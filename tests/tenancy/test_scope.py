"""Tenant scope: the rule, the store's user tenants, and the scope a request carries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from gateway.api.request import USER
from gateway.api.tenancy import tenant_scope
from gateway.store.errors import Conflict, NotFound
from gateway.store.records import Role, User
from gateway.store.store import Store
from gateway.tenancy import CENTRE_WIDE, TenantScope

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


def test_centre_wide_staff_see_every_tenant_and_alarms_without_one() -> None:
    scope = TenantScope.of([])
    assert scope.centre_wide
    assert scope.allows("north") and scope.allows(None)
    assert scope.covers([]) and scope.covers(["north"])
    assert scope == CENTRE_WIDE


def test_tenant_staff_see_only_their_tenants_never_alarms_without_one() -> None:
    scope = TenantScope.of(["north", "east"])
    assert not scope.centre_wide
    assert scope.allows("north") and scope.allows("east")
    assert not scope.allows("south")
    assert not scope.allows(None)
    assert scope.covers(["north"]) and not scope.covers(["north", "south"])
    assert not scope.covers([])  # may not make anyone centre-wide


async def test_store_sets_and_reads_user_tenants_with_the_session(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", reference_base="https://gw/")
    try:
        for name in ("north", "south"):
            await store.add_tenant(name, NOW)
        await store.add_user("ann", Role.OPERATOR, "x", NOW)
        ann = await store.user_by_name("ann")
        assert ann is not None
        assert await store.user_tenants(ann.id) == frozenset()
        await store.set_user_tenants(ann.id, frozenset({"north", "south"}))
        assert await store.user_tenants(ann.id) == {"north", "south"}
        await store.set_user_tenants(ann.id, frozenset({"south"}))
        await store.add_session("t" * 64, ann.id, NOW, NOW + timedelta(hours=1))
        user = await store.session_user("t" * 64, NOW)
        assert user is not None and user.tenants == {"south"}
        with pytest.raises(Conflict, match="no tenant 'west'"):
            await store.set_user_tenants(ann.id, frozenset({"west"}))
        assert await store.user_tenants(ann.id) == {"south"}  # unchanged by the refusal
        with pytest.raises(NotFound):
            await store.set_user_tenants(999, frozenset())
    finally:
        await store.close()


def test_a_request_carries_the_scope_of_its_session_user() -> None:
    request = make_mocked_request("GET", "/api/v1/alarms")
    with pytest.raises(RuntimeError, match="require_user"):
        tenant_scope(request)
    request[USER] = User(1, "ann", Role.OPERATOR, "x", frozenset({"north"}))
    assert tenant_scope(request) == TenantScope(frozenset({"north"}))
    request[USER] = User(2, "bob", Role.SUPERVISOR, "x")
    assert tenant_scope(request).centre_wide
