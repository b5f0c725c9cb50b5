"""Audit API: supervisors export (and are audited doing it), tenant staff see their tenants only,
admins verify the chain."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from gateway.api.keys import STORE
from gateway.audit.schemas import AuditList, AuditVerificationOut
from gateway.auth import token_hash
from gateway.config.schema import Settings
from gateway.store.records import Role
from gateway.store.store import Store
from tests.conftest import Api, password_hash

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def seed(store: Store) -> None:
    """Entries of tenants north and south and one centre-wide, on 1 to 3 December."""
    for name in ("north", "south"):
        await store.add_tenant(name, AT)
    for day, tenant in enumerate(("north", "south", None)):
        await store.append_audit(
            AT + timedelta(days=day), "ann", "listen.start", target=f"alarm-{day}", tenant=tenant
        )


async def test_operators_may_not_export_nor_supervisors_verify(api: Api) -> None:
    answer = await api.client.get("/api/v1/audit", headers=api.staff(Role.OPERATOR))
    assert answer.status == 403
    answer = await api.client.get("/api/v1/audit/verify", headers=api.staff(Role.SUPERVISOR))
    assert answer.status == 403
    assert await api.client.app[STORE].audit_entries() == []


async def test_a_supervisor_exports_csv_and_the_export_is_audited(api: Api) -> None:
    store = api.client.app[STORE]
    await seed(store)
    answer = await api.client.get(
        "/api/v1/audit",
        params={"format": "csv", "from": "2026-12-02", "to": "2026-12-03"},
        headers=api.staff(Role.SUPERVISOR),
    )
    assert answer.status == 200
    assert answer.content_type == "text/csv"
    assert "audit_2026-12-02_2026-12-03.csv" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await answer.text())))
    assert [(r["target"], r["tenant"]) for r in rows] == [("alarm-1", "south"), ("alarm-2", "")]
    export = (await store.audit_entries())[-1]
    assert (export.actor, export.source, export.action) == (
        "supervisor-1",
        "127.0.0.1",
        "export.audit",
    )
    assert export.details == {
        "entries": 2,
        "format": "csv",
        "from": "2026-12-02",
        "to": "2026-12-03",
    }


async def test_tenant_staff_export_only_their_tenants(api: Api) -> None:
    store = api.client.app[STORE]
    await seed(store)
    await store.add_user("sue", Role.SUPERVISOR, password_hash(), AT)
    sue = await store.user_by_name("sue")
    assert sue is not None
    await store.set_user_tenants(sue.id, frozenset({"north"}))
    await store.add_session(
        token_hash("sue-session"), sue.id, AT, datetime.now(UTC) + timedelta(hours=1)
    )
    answer = await api.client.get("/api/v1/audit", headers={"Authorization": "Bearer sue-session"})
    assert answer.status == 200
    listed = AuditList.model_validate(await answer.json())
    assert [(e.target, e.tenant) for e in listed.entries] == [("alarm-0", "north")]
    export = (await store.audit_entries())[-1]
    assert (export.actor, export.details["tenants"]) == ("sue", ["north"])


async def test_bad_parameters_name_the_field(api: Api) -> None:
    for params, field in (({"from": "monday"}, "from"), ({"format": "xml"}, "format")):
        answer = await api.client.get("/api/v1/audit", params=params, headers=api.staff(Role.ADMIN))
        assert answer.status == 422
        assert (await answer.json())["error"]["details"][0]["field"] == field


async def test_an_admin_verifies_and_a_tampered_row_is_named(api: Api, settings: Settings) -> None:
    store = api.client.app[STORE]
    await seed(store)
    answer = await api.client.get("/api/v1/audit/verify", headers=api.staff(Role.ADMIN))
    result = AuditVerificationOut.model_validate(await answer.json())
    assert (result.intact, result.entries, result.summary) == (
        True,
        3,
        "audit chain intact: 3 entries",
    )
    engine = create_engine(settings.database_url())
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET target = 'alarm-x' WHERE id = 2"))
    engine.dispose()
    answer = await api.client.get("/api/v1/audit/verify", headers=api.staff(Role.ADMIN))
    result = AuditVerificationOut.model_validate(await answer.json())
    assert not result.intact
    assert [(p.entry_id, p.fault.value) for p in result.problems] == [(2, "altered")]
