"""Reloading a dialplan directory keeps the plan set in force when the new files are broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.errors import ConfigError
from gateway.dialplan import DialplanLibrary

GOOD = """\
timezone: Europe/Paris
operator_groups: {duty: {members: [ann]}}
routes:
  - {name: all, steps: [{offer: duty, timeout: 10}]}
"""


def test_reload_swaps_good_plans_and_keeps_the_old_ones_on_errors(tmp_path: Path) -> None:
    plan = tmp_path / "default.yaml"
    plan.write_text(GOOD)
    library = DialplanLibrary(tmp_path)
    first = library.current
    assert (library.generation, first.routes[0].steps[0].timeout) == (1, 10)

    plan.write_text(GOOD.replace("timeout: 10", "timeout: -5"))
    issues = library.reload()
    assert [str(i) for i in issues] == [
        f"{plan}:4 routes->0->steps->0->timeout: expected seconds > 0, got -5"
    ]
    assert library.current is first and library.generation == 1
    assert library.last_issues == issues

    plan.write_text(GOOD.replace("timeout: 10", "timeout: 8"))
    assert library.reload() == ()
    assert library.current.routes[0].steps[0].timeout == 8
    assert (library.generation, library.last_issues) == (2, ())
    assert first.routes[0].steps[0].timeout == 10  # running alarms keep their plan set


def test_broken_directory_at_start_is_refused(tmp_path: Path) -> None:
    (tmp_path / "default.yaml").write_text("routes: [\n")
    with pytest.raises(ConfigError) as caught:
        DialplanLibrary(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'default.yaml'}:2: YAML syntax error")
