"""The database refuses to write: locked by another process, or full.

A phone's alarm is acknowledged (201) only once it is stored. A lock released
within the busy timeout only delays the answer; a longer one, or a full disk,
gives a 503 naming the cause, and every alarm already acknowledged stays.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import Pool

from gateway.config.schema import Settings
from tests.api.test_alarms import ALARM
from tests.conftest import Api

# SQLite's own faults (its lock, its file filling up): on SQLite even when the suite runs on
# PostgreSQL
pytestmark = pytest.mark.parametrize("database_backend", ["sqlite"])

HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


@dataclass
class Pragmas:
    """Per-connection SQLite limits applied at every pool checkout (they are not stored)."""

    busy_timeout_ms: int | None = None
    max_page_count: int | None = None

    def apply(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        if self.busy_timeout_ms is not None:
            dbapi_connection.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
        if self.max_page_count is not None:
            dbapi_connection.execute(f"PRAGMA max_page_count={self.max_page_count}")


@pytest.fixture
def pragmas() -> Iterator[Pragmas]:
    chosen = Pragmas()
    event.listen(Pool, "checkout", chosen.apply)
    yield chosen
    event.remove(Pool, "checkout", chosen.apply)


def database_file(settings: Settings) -> Path:
    url = make_url(settings.database_url())
    if url.get_backend_name() != "sqlite" or not url.database:
        pytest.fail(f"these faults are SQLite's; the suite runs on {url.get_backend_name()}")
    return Path(url.database)


async def hold_lock(database: Path, seconds: float) -> asyncio.subprocess.Process:
    """Another process takes SQLite's write lock for ``seconds``."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD_LOCK, str(database), str(seconds),
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert holder.stdout is not None
    assert await holder.stdout.readline() == b"locked\n"
    return holder


def stored_alarms(database: Path) -> set[str]:
    with sqlite3.connect(database) as db:
        return {row[0] for row in db.execute("SELECT id FROM alarms")}


async def post_alarm(api: Api, key: str) -> tuple[int, dict[str, Any]]:
    headers = {**api.device(), "Idempotency-Key": key}
    answer = await api.client.post("/api/v1/alarms", json=ALARM, headers=headers)
    return answer.status, await answer.json()


async def test_a_lock_released_within_the_busy_timeout_only_delays_the_alarm(
    api: Api, settings: Settings
) -> None:
    database = database_file(settings)
    holder = await hold_lock(database, 1.5)
    started = time.monotonic()
    status, body = await post_alarm(api, "locked-briefly")
    waited = time.monotonic() - started
    assert await holder.wait() == 0
    assert status == 201, body
    assert waited > 1.0  # it waited for the lock instead of failing
    assert stored_alarms(database) == {body["id"]}


async def test_a_lock_held_past_the_busy_timeout_is_a_503_and_nothing_is_stored(
    api: Api, settings: Settings, pragmas: Pragmas
) -> None:
    database = database_file(settings)
    before = stored_alarms(database)
    pragmas.busy_timeout_ms = 300
    holder = await hold_lock(database, 3)
    status, body = await post_alarm(api, "locked-long")
    assert status == 503, body
    assert body["error"]["message"] == (
        "the database cannot take this request now: database is locked; nothing was stored"
    )
    assert await holder.wait() == 0
    assert stored_alarms(database) == before  # refused, and truly not stored
    status, body = await post_alarm(api, "locked-long")  # the phone retries, same key
    assert status == 201, body
    assert stored_alarms(database) == {*before, body["id"]}


async def test_a_full_database_refuses_new_alarms_with_503_and_keeps_the_accepted_ones(
    api: Api, settings: Settings, pragmas: Pragmas
) -> None:
    database = database_file(settings)
    accepted = {(await post_alarm(api, f"before-{n}"))[1]["id"] for n in range(3)}
    with sqlite3.connect(database) as db:
        pages = int(db.execute("PRAGMA page_count").fetchone()[0])
    pragmas.max_page_count = pages  # no room to grow: as a full disk to SQLite
    refusals: list[dict[str, Any]] = []
    for n in range(300):  # the free space left in the last pages fills first
        status, body = await post_alarm(api, f"filling-{n}")
        if status == 201:
            accepted.add(body["id"])
        else:
            assert status == 503, body
            refusals.append(body)
            break
    assert refusals, "the database never filled up"
    assert refusals[0]["error"]["message"] == (
        "the database cannot take this request now: database or disk is full; nothing was stored"
    )
    assert stored_alarms(database) == accepted  # every 201 is there, nothing else
    pragmas.max_page_count = 1 << 30  # space freed
    status, body = await post_alarm(api, "after")
    assert status == 201, body
    assert body["id"] in stored_alarms(database)
