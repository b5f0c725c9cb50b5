"""examples/dialplan_dryrun.py runs every scenario on the default plan."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "dialplan_dryrun", REPO / "examples" / "dialplan_dryrun.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("scenario", "last_line"),
    [
        ("unanswered", "-- phase exhausted, finished=False"),
        ("silent-agent", "-- phase accepted, finished=False"),
        ("dropped-call", "-- phase closed, finished=True"),
        ("dispatch", "-- phase closed, finished=True"),
    ],
)
def test_scenarios_print_a_timeline(
    scenario: str, last_line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load_example()
    assert example.main([str(REPO / "dialplans"), "--scenario", scenario]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "route 'default', forward to receiver: True"
    assert lines[-1] == last_line
    assert any(" taken " in line for line in lines)


def test_pilot_is_not_forwarded_and_broken_plans_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load_example()
    assert example.main([str(REPO / "dialplans"), "--pilot", "--scenario", "unanswered"]) == 0
    out = capsys.readouterr().out
    assert "forward to receiver: False" in out and "ForwardToBackup" not in out
    broken = tmp_path / "broken.yaml"
    broken.write_text("routes: []\n")
    assert example.main([str(broken)]) == 2
    assert "no catch-all route" in capsys.readouterr().err
