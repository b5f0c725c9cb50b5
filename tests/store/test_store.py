"""The store: migrations, atomic alarm changes with their timeline and outbox events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import StatementError

from gateway.alarm.events import Accepted, Closed, Noted, Offered, Position, Released
from gateway.alarm.machine import AlarmProtocolError
from gateway.alarm.types import AlarmState, AlarmType, Outcome
from gateway.backoffice.rules import Contact, Scope, parse_window
from gateway.outbox.events import EventKind
from gateway.store import migrate
from gateway.store.errors import Conflict, NotFound
from gateway.store.records import NewAlarm, Role
from gateway.store.store import Store

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url, reference_base="https://gw.example/")
    await opened.add_device("phone-1", "a" * 64, NOW, sip_uri="sip:p1@example.org")
    yield opened
    await opened.close()


def new_alarm(key: str | None = None, request_hash: str = "h") -> NewAlarm:
    return NewAlarm(
        "phone-1",
        AlarmType.SOS,
        NOW - timedelta(seconds=2),
        Position(45.0, 4.8, 9.0),
        80,
        "http",
        key,
        request_hash,
    )


def test_migrations_produce_exactly_the_declared_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        migrate.upgrade(conn)
        migrate.upgrade(conn)  # idempotent: a restart must not fail
        assert migrate.drift(conn) == []
    engine.dispose()


async def test_raise_writes_alarm_timeline_and_outbox_together(store: Store) -> None:
    alarm, created = await store.raise_alarm(new_alarm(), NOW)
    assert created
    assert alarm.state is AlarmState.RECEIVED
    assert [e.kind for e in alarm.timeline] == ["raised"]
    [event] = await store.outbox_after(0)
    assert event.kind is EventKind.ALARM_RAISED
    assert event.seq == 1
    assert event.occurred_at == NOW - timedelta(seconds=2)
    assert event.reference_url == f"https://gw.example/alarms/{alarm.id}"
    assert event.payload["device_id"] == "phone-1"
    assert "account" not in event.payload  # no own DC-09 account: the default applies
    assert event.payload["lat"] == 45.0


async def test_idempotency_key_returns_the_first_alarm(store: Store) -> None:
    first, _ = await store.raise_alarm(new_alarm("k1"), NOW)
    again, created = await store.raise_alarm(new_alarm("k1"), NOW + timedelta(seconds=3))
    assert not created
    assert again == first
    with pytest.raises(Conflict):
        await store.raise_alarm(new_alarm("k1", request_hash="other"), NOW)
    assert len(await store.list_alarms()) == 1


async def test_refused_event_writes_nothing(store: Store) -> None:
    alarm, _ = await store.raise_alarm(new_alarm(), NOW)
    await store.apply(alarm.id, Closed(Outcome.FALSE_ALARM), "alice", NOW)
    with pytest.raises(AlarmProtocolError):
        await store.apply(alarm.id, Accepted("bob"), "bob", NOW)
    reloaded = await store.get_alarm(alarm.id)
    assert reloaded is not None
    assert [e.kind for e in reloaded.timeline] == ["raised", "closed"]
    assert [e.seq for e in await store.outbox_after(0)] == [1, 2]
    assert reloaded.closed_at == NOW
    assert reloaded.outcome is Outcome.FALSE_ALARM


async def test_apply_unknown_alarm(store: Store) -> None:
    with pytest.raises(NotFound, match="no alarm 'x'"):
        await store.apply("x", Accepted("bob"), "bob", NOW)


async def test_outbox_sequence_is_per_alarm(store: Store) -> None:
    one, _ = await store.raise_alarm(new_alarm(), NOW)
    two, _ = await store.raise_alarm(new_alarm(), NOW)
    await store.apply(one.id, Accepted("alice"), "alice", NOW)
    events = await store.outbox_after(0)
    assert [(e.alarm_id, e.seq) for e in events] == [(one.id, 1), (two.id, 1), (one.id, 2)]
    assert [e.id for e in events] == sorted(e.id for e in events)


async def test_devices_users_sessions(store: Store) -> None:
    device = await store.device_by_token_hash("a" * 64)
    assert device is not None
    assert device.id == "phone-1"
    assert await store.device_by_sip_uri("sip:p1@example.org") == device
    with pytest.raises(Conflict):
        await store.add_device("phone-1", "b" * 64, NOW)
    await store.add_user("alice", Role.SUPERVISOR, "hash", NOW)
    with pytest.raises(Conflict):
        await store.add_user("alice", Role.OPERATOR, "hash", NOW)
    user = await store.user_by_name("alice")
    assert user is not None
    await store.add_session("s" * 64, user.id, NOW, NOW + timedelta(hours=1))
    assert await store.session_user("s" * 64, NOW) == user
    assert await store.session_user("s" * 64, NOW + timedelta(hours=2)) is None
    await store.delete_session("s" * 64)
    assert await store.session_user("s" * 64, NOW) is None


async def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        await store.add_device("phone-9", "c" * 64, datetime(2026, 1, 1))


async def test_history_returns_timelines_in_the_window(store: Store) -> None:
    early, _ = await store.raise_alarm(new_alarm(), NOW - timedelta(days=2))
    inside, _ = await store.raise_alarm(new_alarm(), NOW)
    await store.apply(inside.id, Accepted("alice"), "alice", NOW + timedelta(seconds=4))
    found = await store.history(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert [a.id for a in found] == [inside.id]
    assert [e.kind for e in found[0].timeline] == ["raised", "accepted"]
    assert early.id not in {a.id for a in found}


async def test_device_language_is_kept(store: Store) -> None:
    await store.add_device("phone-fr", "f" * 64, NOW, language="fr")
    device = await store.device_by_id("phone-fr")
    assert device is not None
    assert device.language == "fr"


async def test_apply_all_is_all_or_nothing(store: Store) -> None:
    alarm, _ = await store.raise_alarm(new_alarm(), NOW)
    note = Noted("dialplan.taken", "offered to duty")
    done = await store.apply_all(alarm.id, [note, Offered("duty")], "dialplan", NOW)
    assert [e.kind for e in done.timeline] == ["noted", "offered"]  # only the new entries
    assert done.state is AlarmState.OFFERED
    with pytest.raises(AlarmProtocolError):
        await store.apply_all(alarm.id, [note, Released("ana", "x")], "dialplan", NOW)
    reloaded = await store.get_alarm(alarm.id)
    assert reloaded is not None
    assert [e.kind for e in reloaded.timeline] == ["raised", "noted", "offered"]


async def test_a_pilot_tenants_alarm_is_marked_pilot_in_its_events(store: Store) -> None:
    await store.add_tenant("dgfip-35", NOW, pilot=True)
    with pytest.raises(Conflict):
        await store.add_tenant("dgfip-35", NOW)
    await store.add_device("pilot-phone", "p" * 64, NOW, tenant="dgfip-35")
    with pytest.raises(Conflict, match="does not exist"):
        await store.add_device("stray", "q" * 64, NOW, tenant="nowhere")
    alarm, _ = await store.raise_alarm(
        NewAlarm("pilot-phone", AlarmType.SOS, NOW, None, None, "http"), NOW
    )
    assert (alarm.tenant, alarm.pilot) == ("dgfip-35", True)
    [event] = await store.outbox_after(0)
    assert event.payload["pilot"] is True
    assert event.payload["tenant"] == "dgfip-35"
    reloaded = await store.get_alarm(alarm.id)
    assert reloaded is not None
    assert reloaded.pilot


async def test_rotated_token_replaces_the_old_one_at_once(store: Store) -> None:
    assert await store.device_by_token_hash("a" * 64) is not None  # now cached
    await store.rotate_device_token("phone-1", "b" * 64)
    assert await store.device_by_token_hash("a" * 64) is None
    rotated = await store.device_by_token_hash("b" * 64)
    assert rotated is not None and rotated.id == "phone-1"
    with pytest.raises(NotFound, match="no device 'nobody'"):
        await store.rotate_device_token("nobody", "c" * 64)


async def test_revocation_shows_at_once_despite_the_token_cache(store: Store) -> None:
    assert await store.device_by_token_hash("a" * 64) is not None  # now cached
    await store.revoke_device("phone-1", NOW)
    await store.revoke_device("phone-1", NOW + timedelta(hours=1))  # idempotent: first date kept
    device = await store.device_by_token_hash("a" * 64)
    assert device is not None and device.revoked_at == NOW
    with pytest.raises(Conflict, match="is revoked"):
        await store.rotate_device_token("phone-1", "b" * 64)
    with pytest.raises(NotFound, match="no device 'nobody'"):
        await store.revoke_device("nobody", NOW)


async def test_instructions_and_contacts_round_trip_and_delete(store: Store) -> None:
    scope = Scope(tenant=None, site="lyon", device_id="phone-1")
    added = await store.add_instruction(
        scope, "call the site first", frozenset({AlarmType.FALL}), NOW
    )
    assert await store.instructions() == [added]
    office = parse_window("mon-fri 08:00-18:00")
    contact = Contact(
        0,
        Scope(agent_group="night"),
        "Ana",
        "manager",
        "+33612345678",
        "sip:ana@pbx.example",
        None,
        (office,),
        ZoneInfo("Europe/Paris"),
        3,
    )
    stored = await store.add_contact(contact, NOW)
    assert stored.id > 0 and await store.contacts() == [stored]
    await store.delete_instruction(added.id)
    await store.delete_contact(stored.id)
    assert await store.instructions() == [] and await store.contacts() == []
    with pytest.raises(NotFound, match=f"no contact {stored.id}"):
        await store.delete_contact(stored.id)
    with pytest.raises(Conflict, match="no device 'ghost'"):
        await store.add_instruction(Scope(device_id="ghost"), "x", frozenset(), NOW)
