"""Dialplans kept in force while their directory is edited: reload without restart.

A reload that finds problems keeps the plan set in force and reports the
issues; alarms already running keep the plan set they started with (plan sets
are immutable), only new alarms use a reloaded one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.config.errors import ConfigError, ConfigIssue
from gateway.dialplan.load import load_plan_set
from gateway.dialplan.model import PlanSet


class DialplanLibrary:
    """The plan set in force for a directory of dialplan files."""

    def __init__(self, directory: str | Path) -> None:
        """Load ``directory``; raise ConfigError if it is broken (nothing to fall back on)."""
        self.directory = Path(directory)
        self._current = load_plan_set([self.directory])
        self._generation = 1
        self._last_issues: tuple[ConfigIssue, ...] = ()

    @property
    def current(self) -> PlanSet:
        """The plan set new alarms must use."""
        return self._current

    @property
    def generation(self) -> int:
        """Increases by one at each successful reload, for logs and the timeline."""
        return self._generation

    @property
    def last_issues(self) -> Sequence[ConfigIssue]:
        """What the last reload refused; empty when it succeeded."""
        return self._last_issues

    def reload(self) -> Sequence[ConfigIssue]:
        """Load the directory again; on problems keep the plan set in force and return them."""
        try:
            plans = load_plan_set([self.directory])
        except ConfigError as exc:
            self._last_issues = tuple(exc.issues)
            return self._last_issues
        self._current = plans
        self._generation += 1
        self._last_issues = ()
        return ()
