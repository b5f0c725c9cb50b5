"""Audit API: supervisors and admins export the log (itself audited); admins verify the chain."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from gateway.api.errors import Forbidden, Invalid
from gateway.api.keys import STORE
from gateway.api.request import require_user
from gateway.api.schemas import ErrorDetail
from gateway.api.tenancy import tenant_scope
from gateway.audit.export import ExportFormat, parse_bound, render
from gateway.audit.record import audit
from gateway.audit.schemas import AuditVerificationOut
from gateway.audit.verify import verify_log
from gateway.store.records import Role

routes = web.RouteTableDef()
MAX_EXPORT = 100_000
"""Entries in one export; a longer period is exported in parts."""


def _bound(request: web.Request, name: str) -> datetime | None:
    text = request.query.get(name)
    if not text:
        return None
    try:
        return parse_bound(name, text, end=name == "to")
    except ValueError as exc:
        raise Invalid(str(exc), [ErrorDetail(field=name, message=str(exc))]) from None


@routes.get("/api/v1/audit")
async def export_audit(request: web.Request) -> web.Response:
    """Entries of the period (of the user's tenants only, for tenant staff), oldest first."""
    await require_user(request, Role.SUPERVISOR, Role.ADMIN)
    raw_format = request.query.get("format", ExportFormat.JSON.value)
    if raw_format not in tuple(ExportFormat):
        message = f"unknown format {raw_format!r}; expected csv or json"
        raise Invalid(message, [ErrorDetail(field="format", message=message)])
    fmt = ExportFormat(raw_format)
    start, end = _bound(request, "from"), _bound(request, "to")
    tenants = tenant_scope(request).tenants
    entries = await request.app[STORE].audit_entries(
        start=start, end=end, tenants=tenants, limit=MAX_EXPORT + 1
    )
    if len(entries) > MAX_EXPORT:
        message = f"more than {MAX_EXPORT} entries in this period: export it in parts"
        raise Invalid(message, [ErrorDetail(field="from", message=message)])
    details: dict[str, object] = {
        "from": request.query.get("from"),
        "to": request.query.get("to"),
        "format": fmt.value,
        "entries": len(entries),
        **({"tenants": sorted(tenants)} if tenants is not None else {}),
    }
    await audit(request, "export.audit", target="audit_log", details=details)
    if fmt is ExportFormat.JSON:
        return web.Response(text=render(entries, fmt), content_type="application/json")
    span = f"{request.query.get('from') or 'start'}_{request.query.get('to') or 'now'}"
    return web.Response(
        text=render(entries, fmt),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit_{span}.csv"'},
    )


@routes.get("/api/v1/audit/verify")
async def verify_audit(request: web.Request) -> web.Response:
    """Check the whole hash chain: intact, or the first altered or unlinked entry.

    Centre-wide admins only: the chain spans every tenant, and its entry ids and count
    would tell a tenant's admin about the others' activity.
    """
    await require_user(request, Role.ADMIN)
    if tenant_scope(request).tenants is not None:
        raise Forbidden("checking the whole audit chain is for centre-wide admins")
    result = await verify_log(request.app[STORE])
    return web.json_response(AuditVerificationOut.of(result).model_dump(mode="json"))
