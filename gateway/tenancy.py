"""Which tenants a staff member may see: one rule for every route, list and stream.

A user with no tenant assigned is centre-wide staff and sees everything,
including alarms of devices that belong to no tenant; a user with tenants sees
only those, never an alarm without a tenant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TenantScope:
    tenants: frozenset[str] | None
    """The tenants visible; None: centre-wide (all tenants and none)."""

    @classmethod
    def of(cls, tenants: Iterable[str]) -> TenantScope:
        """The scope of a user assigned ``tenants`` (none assigned: centre-wide)."""
        assigned = frozenset(tenants)
        return cls(assigned or None)

    @property
    def centre_wide(self) -> bool:
        return self.tenants is None

    def allows(self, tenant: str | None) -> bool:
        """Whether data of ``tenant`` (None: no tenant) may be shown or acted on."""
        return self.tenants is None or (tenant is not None and tenant in self.tenants)

    def covers(self, tenants: Iterable[str]) -> bool:
        """Whether every one of ``tenants`` is visible (empty: only for centre-wide staff)."""
        wanted = frozenset(tenants)
        if self.tenants is None:
            return True
        return bool(wanted) and wanted <= self.tenants


CENTRE_WIDE = TenantScope(None)


def event_alarm(message: Mapping[str, Any]) -> tuple[str | None, str | None, bool]:
    """(alarm id, tenant, tenant known) of a live event; no alarm id: a system-wide event.

    Alarm changes carry the alarm and so its tenant; speech, offers and alerts
    name only the alarm id, and the tenant must be looked up.
    """
    alarm = message.get("alarm")
    if isinstance(alarm, Mapping):
        return str(alarm["id"]), alarm.get("tenant"), True
    alarm_id = message.get("alarm_id")
    return (None, None, True) if alarm_id is None else (str(alarm_id), None, False)
