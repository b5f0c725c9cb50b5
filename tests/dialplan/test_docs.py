"""The format example in docs/dialplan.md loads as written."""

from __future__ import annotations

from pathlib import Path

from gateway.dialplan import parse_plan_set

DOC = Path(__file__).resolve().parents[2] / "docs" / "dialplan.md"


def test_documented_example_loads() -> None:
    text = DOC.read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    plans = parse_plan_set({"docs/dialplan.md": example})
    assert [route.name for route in plans.routes] == ["night-distress", "default"]
    assert plans.route("night-distress").triggers.distress_cue is not None
