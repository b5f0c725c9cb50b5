"""``alarm-gateway audit verify`` and ``audit export``; administration commands are audited."""

from __future__ import annotations

import getpass
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from gateway.audit.chain import canonical_json
from gateway.cli import main


@pytest.fixture
def cfg(tmp_path: Path) -> str:
    path = tmp_path / "gw.toml"
    path.write_text(f'[gateway]\ndata_dir = "{tmp_path / "data"}"\n')
    return str(path)


def administer(cfg: str) -> None:
    """Three audited commands: entries 1 to 3."""
    assert main(["tenant", "add", "north", "--config", cfg]) == 0
    assert main(["device", "add", "a1", "--tenant", "north", "--config", cfg]) == 0
    assert main(["device", "revoke", "a1", "--config", cfg]) == 0


def database(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "data" / "gateway.sqlite3")


def test_an_intact_log_verifies(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    administer(cfg)
    capsys.readouterr()
    assert main(["audit", "verify", "--config", cfg]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "audit chain intact: 3 entries"
    assert out[1].startswith("last entry hash: ") and len(out[1].split()[-1]) == 64


def test_a_tampered_row_is_named(
    cfg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    administer(cfg)
    with database(tmp_path) as db:
        db.execute("UPDATE audit_log SET actor = 'cli:someone-else' WHERE id = 2")
    capsys.readouterr()
    assert main(["audit", "verify", "--config", cfg]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        "audit chain broken at entry 2: its content does not give its stored hash: "
        "the row was altered"
    )


def test_a_deleted_row_is_found_at_the_next_one(
    cfg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    administer(cfg)
    with database(tmp_path) as db:
        db.execute("DELETE FROM audit_log WHERE id = 2")
    capsys.readouterr()
    assert main(["audit", "verify", "--config", cfg]) == 1
    assert capsys.readouterr().err.startswith(
        "audit chain broken at entry 3: its prev_hash does not match the hash of entry 1"
    )


def test_administration_commands_are_audited_and_exported(
    cfg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    administer(cfg)
    capsys.readouterr()
    assert main(["audit", "export", "--format", "json", "--config", cfg]) == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    actor = f"cli:{getpass.getuser()}"
    assert [
        (e["id"], e["actor"], e["source"], e["action"], e["target"], e["tenant"]) for e in entries
    ] == [
        (1, actor, "local", "admin.tenant.create", "north", "north"),
        (2, actor, "local", "admin.device.create", "a1", "north"),
        (3, actor, "local", "admin.device.revoke", "a1", None),
    ]
    for entry in entries:  # an export can be checked without the gateway
        content = {k: v for k, v in entry.items() if k not in ("id", "hash")}
        assert hashlib.sha256(canonical_json(content)).hexdigest() == entry["hash"]
    assert main(["audit", "export", "--from", "2020-01-01", "--config", cfg]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "id,at,actor,source,action,target,tenant,details,prev_hash,hash"
    assert len(rows) == 1 + 4  # the JSON export above was audited too
    assert ",export.audit,audit_log,," in rows[4]


def test_export_bounds_are_checked(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "export", "--from", "yesterday", "--config", cfg]) == 2
    assert capsys.readouterr().err.startswith(
        "--from must be a date like 2026-12-04 or a time like 2026-12-04T08:00:00Z, got 'yesterday'"
    )
    assert main(["audit", "export", "--to", "2020-01-01", "--config", cfg]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "id,at,actor,source,action,target,tenant,details,prev_hash,hash"
    ]
