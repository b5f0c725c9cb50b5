"""A throwaway PostgreSQL server for the suite, and one fresh database per test.

One server per session (Debian's binaries, a temporary data directory, 127.0.0.1
on a free port, fsync off); each test gets a copy of a migrated template
database, dropped after it. PostgreSQL refuses to run as root, so as root the
server runs as the ``postgres`` OS user.

``ALARM_GATEWAY_TEST_DATABASE=postgresql`` runs every test on PostgreSQL; in the
normal run the tests that exercise SQL (``BOTH_BACKEND_DIRS``) run on both.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import create_engine

from gateway.store import migrate

BIN = Path(os.environ.get("ALARM_GATEWAY_PG_BIN", "/usr/lib/postgresql/15/bin"))
BACKEND_VARIABLE = "ALARM_GATEWAY_TEST_DATABASE"
BACKENDS = ("sqlite", "postgresql")
TEMPLATE = "gateway_template"
# Test directories whose tests touch SQL: in the normal run they run on both backends.
BOTH_BACKEND_DIRS = ("store", "api", "outbox", "dialplan", "backoffice", "tenancy")


def default_backend() -> str:
    """The backend of every test not run on both: ``sqlite`` unless the variable says otherwise."""
    backend = os.environ.get(BACKEND_VARIABLE, "sqlite")
    if backend not in BACKENDS:
        raise pytest.UsageError(f"{BACKEND_VARIABLE}={backend!r}: expected one of {BACKENDS}")
    return backend


def backends_for(test_path: Path) -> tuple[str, ...]:
    """The backends one test file runs on."""
    if default_backend() == "sqlite" and set(test_path.parts) & set(BOTH_BACKEND_DIRS):
        return BACKENDS
    return (default_backend(),)


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL will not run as root: as root, run it as the ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class PostgresServer:
    """A server in its own temporary directory; ``start`` then ``stop`` (which removes it)."""

    port: int
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL the gateway is configured with."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        if not (BIN / "initdb").exists():
            raise RuntimeError(
                f"PostgreSQL binaries not found in {BIN}: run scripts/setup --test "
                "(apt package postgresql) or set ALARM_GATEWAY_PG_BIN"
            )
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        initdb = [str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"]
        self._run([*initdb, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=300",
            ]
        )
        log = self.root / "server.log"
        pg_ctl = [str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-o", options]
        self._run([*pg_ctl, "-w", "-t", "60", "start"])

    def stop(self) -> None:
        try:
            self._run([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """A connection for CREATE/DROP DATABASE (which refuse to run in a transaction)."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def create_database(self, name: str, template: str = "template0") -> None:
        query = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
        with self.admin() as conn:
            conn.execute(query.format(sql.Identifier(name), sql.Identifier(template)))

    def drop_database(self, name: str) -> None:
        """Drop it even if a test left connections open (a killed gateway process)."""
        with self.admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(
            _as_server_user(command), capture_output=True, timeout=120, check=False
        )
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{command[0]} failed ({done.returncode}): {done.stderr.decode()}{tail}"
            )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session, with a migrated template database."""
    from tests.conftest import free_port

    server = PostgresServer(free_port(), Path(tempfile.mkdtemp(prefix="agw-pg-")))
    server.start()
    try:
        server.create_database(TEMPLATE)
        engine = create_engine(server.url(TEMPLATE))
        with engine.begin() as conn:
            migrate.upgrade(conn)
        engine.dispose()
        yield server
    finally:
        server.stop()


_numbers = itertools.count(1)


@pytest.fixture
def database_backend() -> str:
    """Overridden by direct parametrisation for the tests run on both backends."""
    return default_backend()


@pytest.fixture
def database_url(
    database_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A fresh, migrated database for this test, on the backend it runs on."""
    if database_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.sqlite3'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"test_{os.getpid()}_{next(_numbers)}"
    server.create_database(name, TEMPLATE)
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run a test that uses a database on each backend its directory asks for."""
    if "database_backend" in metafunc.fixturenames:
        backends = backends_for(metafunc.definition.path)
        if len(backends) > 1:
            metafunc.parametrize("database_backend", backends)
