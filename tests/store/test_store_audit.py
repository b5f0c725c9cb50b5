"""The store's audit log: appends stay one chain, even concurrent ones; reads filter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.audit.chain import GENESIS, verify_chain
from gateway.store.store import Store

NOW = datetime(2026, 12, 4, 23, 0, 0, 654321, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url, reference_base="https://gw.example/")
    yield opened
    await opened.close()


async def test_entries_are_chained_and_read_back_as_written(store: Store) -> None:
    first = await store.append_audit(
        NOW, "alice", "listen.start", source="127.0.0.1", target="alarm-1", tenant="north"
    )
    second = await store.append_audit(
        NOW + timedelta(seconds=1),
        "cli:root",
        "device.add",
        source="local",
        details={"device": "phone-1", "labels": ("a", "b"), "ratio": 0.1},
    )
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash
    assert await store.audit_entries() == [first, second]
    assert second.details == {"device": "phone-1", "labels": ["a", "b"], "ratio": 0.1}
    assert verify_chain(await store.audit_entries()) == []


async def test_fifty_concurrent_appends_keep_one_chain(store: Store) -> None:
    await asyncio.gather(
        *(store.append_audit(NOW, f"user-{i}", "recording.play", target=f"r{i}") for i in range(50))
    )
    entries = await store.audit_entries()
    assert len(entries) == 50
    assert len({e.prev_hash for e in entries}) == 50
    assert verify_chain(entries) == []


async def test_reads_filter_by_time_tenant_and_page(store: Store) -> None:
    for i, tenant in enumerate(["north", "south", None, "north"]):
        await store.append_audit(NOW + timedelta(minutes=i), "bob", "talk.start", tenant=tenant)
    everything = await store.audit_entries()
    assert [e.tenant for e in everything] == ["north", "south", None, "north"]
    assert await store.audit_entries(tenants=frozenset({"north"})) == everything[::3]
    assert await store.audit_entries(tenants=frozenset()) == []
    window = await store.audit_entries(
        start=NOW + timedelta(minutes=1), end=NOW + timedelta(minutes=3)
    )
    assert window == everything[1:3]
    assert await store.audit_entries(after_id=everything[0].id, limit=2) == everything[1:3]


async def test_details_that_are_not_json_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="audit details must be plain JSON values"):
        await store.append_audit(NOW, "alice", "export.audit", details={"at": NOW})
    assert await store.audit_entries() == []


async def test_two_stores_on_one_database_keep_one_chain(store: Store, database_url: str) -> None:
    """A CLI command appending while the gateway runs: the database's lock orders them."""
    other = await Store.open(database_url, reference_base="https://gw.example/")
    try:
        await asyncio.gather(
            *(
                (store if i % 2 else other).append_audit(NOW, f"user-{i}", "device.rotate")
                for i in range(40)
            )
        )
    finally:
        await other.close()
    entries = await store.audit_entries()
    assert len(entries) == 40
    assert verify_chain(entries) == []
