"""Tenant isolation at the HTTP edge: every route asks the same scope.

``require_user`` keeps the session's user (with their tenants, read in the same
lookup) on the request; :func:`tenant_scope` turns it into a
:class:`~gateway.tenancy.TenantScope`. Another tenant's object answers 404, as
if it did not exist, so its existence is not revealed either.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.errors import NotFoundError
from gateway.api.keys import STORE
from gateway.api.request import USER
from gateway.bus import Message
from gateway.store.records import AlarmRecord, Device
from gateway.store.store import Store
from gateway.tenancy import TenantScope, event_alarm


def tenant_scope(request: web.Request) -> TenantScope:
    """What the logged-in user may see; call after ``require_user``."""
    user = request.get(USER)
    if user is None:
        raise RuntimeError("tenant_scope() needs require_user() first on this request")
    return TenantScope.of(user.tenants)


async def scoped_alarm(request: web.Request, alarm_id: str) -> AlarmRecord:
    """The alarm if the user may see it; 404 otherwise (missing or another tenant's)."""
    alarm = await request.app[STORE].get_alarm(alarm_id)
    if alarm is None or not tenant_scope(request).allows(alarm.tenant):
        raise NotFoundError(f"no alarm {alarm_id!r}")
    return alarm


async def scoped_device(request: web.Request, device_id: str) -> Device:
    """The device if the user may see it; 404 otherwise (missing or another tenant's)."""
    device = await request.app[STORE].device_by_id(device_id)
    if device is None or not tenant_scope(request).allows(device.tenant):
        raise NotFoundError(f"no device {device_id!r}")
    return device


class EventFilter:
    """Which live events one stream may carry: only those of alarms in its scope.

    System-wide events (the monitoring-centre link) go to everyone. An alarm's
    tenant never changes, so each one is looked up at most once per stream.
    """

    def __init__(self, store: Store, scope: TenantScope) -> None:
        self._store = store
        self._scope = scope
        self._tenants: dict[str, str | None] = {}

    async def allows(self, message: Message) -> bool:
        if self._scope.centre_wide:
            return True
        alarm_id, tenant, known = event_alarm(message)
        if alarm_id is None:
            return True
        if known:
            self._tenants[alarm_id] = tenant
        elif alarm_id in self._tenants:
            tenant = self._tenants[alarm_id]
        else:
            alarm = await self._store.get_alarm(alarm_id)
            if alarm is None:
                return False
            tenant = self._tenants[alarm_id] = alarm.tenant
        return self._scope.allows(tenant)
