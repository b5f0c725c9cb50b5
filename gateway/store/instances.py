"""Several gateway instances on one database: liveness, alarm owners, outbox sink leases.

Each function is one step of a transaction the caller runs (``Store.transaction``).
An instance writes its heartbeat every few seconds; one whose heartbeat is
older than the take-over time is dead, and a live instance claims its open
alarms with a conditional UPDATE, so two survivors never claim the same alarm.
"""

from __future__ import annotations

import socket
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, delete, insert, or_, select, update

from gateway.alarm.types import AlarmState
from gateway.store.schema import alarms, instances, outbox_cursors


def register(conn: Connection, instance_id: str, host: str, now: datetime) -> None:
    """Record the instance as alive (a restart under the same id replaces its old row)."""
    conn.execute(delete(instances).where(instances.c.id == instance_id))
    conn.execute(
        insert(instances).values(id=instance_id, host=host, started_at=now, heartbeat_at=now)
    )


def heartbeat(conn: Connection, instance_id: str, now: datetime) -> None:
    """Record that the instance is alive. One that was slow to beat (a long start) may
    have been counted dead and removed by another: it registers again, or it would stay
    dead in the others' eyes and lose every alarm it raises."""
    beat = conn.execute(
        update(instances).where(instances.c.id == instance_id).values(heartbeat_at=now)
    )
    if beat.rowcount == 0:
        register(conn, instance_id, socket.gethostname(), now)


def leave(conn: Connection, instance_id: str) -> None:
    """A clean stop: forget the instance and free its sink leases for the others at once."""
    conn.execute(
        update(outbox_cursors)
        .where(outbox_cursors.c.owner == instance_id)
        .values(owner=None, lease_until=None)
    )
    conn.execute(delete(instances).where(instances.c.id == instance_id))


def claim_orphans(conn: Connection, instance_id: str, dead_before: datetime) -> list[str]:
    """Take the open alarms of dead or departed instances; the ids taken, oldest first.

    An owner is dead when its heartbeat is older than ``dead_before`` or when it
    left (no row any more) while alarms were open.
    """
    alive = select(instances.c.id).where(instances.c.heartbeat_at >= dead_before)
    orphaned = (
        select(alarms.c.id)
        .where(
            alarms.c.state != AlarmState.CLOSED.value,
            alarms.c.owner.is_not(None),
            alarms.c.owner != instance_id,
            alarms.c.owner.not_in(alive),
        )
        .order_by(alarms.c.received_at, alarms.c.id)
    )
    taken = _claim(conn, orphaned, alarms.c.owner.not_in(alive), instance_id)
    conn.execute(delete(instances).where(instances.c.heartbeat_at < dead_before))
    return taken


def owned_open_alarms(conn: Connection, instance_id: str) -> list[str]:
    query = (
        select(alarms.c.id)
        .where(alarms.c.owner == instance_id, alarms.c.state != AlarmState.CLOSED.value)
        .order_by(alarms.c.received_at, alarms.c.id)
    )
    return list(conn.execute(query).scalars().all())


def adopt_unowned(conn: Connection, instance_id: str) -> list[str]:
    """Open alarms stored before owners existed: ours now, unless another instance was quicker."""
    unowned = (
        select(alarms.c.id)
        .where(alarms.c.owner.is_(None), alarms.c.state != AlarmState.CLOSED.value)
        .order_by(alarms.c.received_at, alarms.c.id)
    )
    return _claim(conn, unowned, alarms.c.owner.is_(None), instance_id)


def _claim(
    conn: Connection, candidates: Select[Any], still: ColumnElement[bool], instance_id: str
) -> list[str]:
    """Make ``instance_id`` the owner of each candidate alarm whose owner is ``still`` so.

    The condition is checked again in each UPDATE: of two instances claiming
    at once, one gets the alarm.
    """
    taken: list[str] = []
    for alarm_id in conn.execute(candidates).scalars().all():
        claimed = conn.execute(
            update(alarms).where(alarms.c.id == alarm_id, still).values(owner=instance_id)
        )
        if claimed.rowcount == 1:
            taken.append(str(alarm_id))
    return taken


def lease_sink(
    conn: Connection, sink: str, instance_id: str, now: datetime, until: datetime
) -> bool:
    """Take or renew the right to deliver to ``sink``; False while another instance holds it."""
    taken = conn.execute(
        update(outbox_cursors)
        .where(
            outbox_cursors.c.sink == sink,
            or_(
                outbox_cursors.c.owner.is_(None),
                outbox_cursors.c.owner == instance_id,
                outbox_cursors.c.lease_until < now,
            ),
        )
        .values(owner=instance_id, lease_until=until)
    )
    return taken.rowcount == 1
