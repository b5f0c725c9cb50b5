"""``alarm-gateway tenant add --licences`` and ``import agents``, in-process on a fresh database."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pytest

from gateway.cli import main
from tests.backoffice.test_cli import config, holder

HEADER = "agent_id,name,tenant,device_id,sip_uri\n"


def test_import_checks_every_row_then_imports_within_the_licences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path)
    assert main(["tenant", "add", "north", "--licences", "2", "--config", cfg]) == 0
    with pytest.raises(SystemExit):
        main(["tenant", "add", "south", "--licences", "-1", "--config", cfg])
    assert "expected a count of devices" in capsys.readouterr().err
    sheet = tmp_path / "agents.csv"
    sheet.write_text(
        HEADER
        + "a1,Ana,north,d1,sip:ana@pbx.example\n"
        + "a2,Bo,west,d2,\n"
        + "a3,Cy,north,d3,\n"
        + "a4,Di,north,d4,\n"
    )
    assert main(["import", "agents", str(sheet), "--config", cfg]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert f"{sheet}:3: tenant: no tenant 'west'; create it first" in out.err
    assert f"{sheet}:5: device_id: tenant 'north' has 2 licences, all in use" in out.err
    assert "2 of 4 rows refused; nothing imported" in out.err
    assert main(["import", "agents", str(sheet), "--dry-run", "--config", cfg]) == 1
    assert "the others would do: agents 2 created" in capsys.readouterr().err
    secrets = tmp_path / "secrets.csv"
    args = ["import", "agents", str(sheet), "--partial", "--tokens-out", str(secrets)]
    assert main([*args, "--config", cfg]) == 1
    assert "the others imported: agents 2 created" in capsys.readouterr().err
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    rows = list(csv.DictReader(secrets.read_text().splitlines()))
    assert [r["device_id"] for r in rows] == ["d1", "d3"]
    assert holder(cfg, rows[0]["token"]) == ("d1", False)
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "a1,Ana,north,d1,sip:ana@pbx.example\n")
    assert main(["import", "agents", str(good), "--config", cfg]) == 0
    out = capsys.readouterr()
    assert out.out == ""  # nothing new: no secrets printed
    assert "devices 0 created, 0 updated, 1 unchanged" in out.err
    assert main(["import", "agents", str(tmp_path / "missing.csv"), "--config", cfg]) == 2
