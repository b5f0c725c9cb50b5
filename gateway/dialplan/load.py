"""Read dialplan files into one checked ``PlanSet``, or list everything wrong with them.

Every issue names the file, the line and the key path, e.g.
``dialplans/default.yaml:41 routes->0->steps->2->timeout: expected seconds > 0, got -5``.
Checks go beyond each file's schema: names defined twice across files, references
to undefined groups, centres, contact lists or calendars, and routes that can never
match. A plan set without a final catch-all route is refused, so that no alarm is
ever left unrouted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import ValidationError

from gateway.config.errors import ConfigError, ConfigIssue, KeyPath
from gateway.config.locate import LineMap, issues_from_validation, line_of, load_yaml
from gateway.dialplan.model import STEP_KINDS, BackupStep, PlanFile, PlanSet, Trigger

DIALPLAN_SUFFIXES = (".yaml", ".yml")

#: Top-level sections whose entries are named, with the words used in messages.
_SECTIONS = {
    "operator_groups": "operator group",
    "backup_centres": "backup centre",
    "contact_lists": "contact list",
    "holidays": "holiday calendar",
}


def check(paths: Iterable[str | Path]) -> list[ConfigIssue]:
    """Every problem in the dialplan files or directories given; empty when they load."""
    try:
        load_plan_set(paths)
    except ConfigError as exc:
        return list(exc.issues)
    return []


def load_plan_set(paths: Iterable[str | Path]) -> PlanSet:
    """Load files (directories mean their ``*.yaml`` files, sorted) as one plan set.

    Raises ConfigError carrying every issue found, not just the first.
    """
    files, issues = _expand(paths)
    sources: dict[str, str] = {}
    for file in files:
        try:
            sources[file] = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            issues.append(ConfigIssue(file, None, (), f"cannot read the file: {reason}"))
    if issues:
        raise ConfigError(issues)
    return parse_plan_set(sources)


def parse_plan_set(sources: Mapping[str, str]) -> PlanSet:
    """Build a plan set from texts already read, keyed by the file name to report.

    Files are taken in the mapping's order. Raises ConfigError with every issue.
    """
    parsed: list[_Parsed] = []
    issues: list[ConfigIssue] = []
    for file, text in sources.items():
        try:
            parsed.append(_parse(file, text))
        except ConfigError as exc:
            issues.extend(exc.issues)
    if issues:
        raise ConfigError(issues)
    merger = _Merger()
    for item in parsed:
        merger.add(item)
    plans = merger.finish()
    if merger.issues:
        raise ConfigError(merger.issues)
    return plans


@dataclass(frozen=True, slots=True)
class _Parsed:
    file: str
    plan: PlanFile
    lines: LineMap

    def issue(self, path: KeyPath, message: str) -> ConfigIssue:
        return ConfigIssue(self.file, line_of(self.lines, path), path, message)

    def where(self, path: KeyPath) -> str:
        return f"{self.file}:{line_of(self.lines, path)}"


def _expand(paths: Iterable[str | Path]) -> tuple[list[str], list[ConfigIssue]]:
    files: list[str] = []
    issues: list[ConfigIssue] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in DIALPLAN_SUFFIXES)
            if not found:
                issues.append(ConfigIssue(str(raw), None, (), "no *.yaml dialplan files in it"))
            files.extend(str(p) for p in found)
        else:
            files.append(str(raw))
    if not files and not issues:
        issues.append(ConfigIssue("<dialplans>", None, (), "no dialplan files given"))
    return files, issues


def _parse(file: str, text: str) -> _Parsed:
    data, lines = load_yaml(text, file)
    duplicates = _duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader), file)
    if duplicates:
        raise ConfigError(duplicates)
    if not isinstance(data, dict):
        kind = "an empty file" if data is None else f"a {type(data).__name__}"
        issue = ConfigIssue(file, 1, (), f"expected a mapping of dialplan sections, got {kind}")
        raise ConfigError([issue])
    try:
        plan = PlanFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_issues(exc, file, lines)) from None
    return _Parsed(file, plan, lines)


def _duplicate_keys(root: yaml.Node | None, file: str) -> list[ConfigIssue]:
    """Keys given twice in one mapping: YAML would silently keep only the last one."""
    issues: list[ConfigIssue] = []
    seen_nodes: set[int] = set()
    pending: list[tuple[yaml.Node, KeyPath]] = [(root, ())] if root is not None else []
    while pending:
        node, path = pending.pop()
        if id(node) in seen_nodes:  # an alias: already walked
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                key, line = str(key_node.value), key_node.start_mark.line + 1
                if key in first and key != "<<":
                    issues.append(
                        ConfigIssue(
                            file,
                            line,
                            (*path, key),
                            f"duplicate key (first at line {first[key]}); "
                            "YAML would keep only the last one",
                        )
                    )
                first.setdefault(key, line)
                pending.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend((item, (*path, i)) for i, item in enumerate(node.value))
    return sorted(issues, key=lambda issue: issue.line or 0)


def _issues(exc: ValidationError, file: str, lines: LineMap) -> list[ConfigIssue]:
    """pydantic's issues, without the step-kind tag it inserts after a step's index."""
    issues = []
    for issue in issues_from_validation(exc, file, lines):
        path = _strip_step_tag(issue.path)
        issues.append(ConfigIssue(file, line_of(lines, path), path, issue.message))
    return issues


def _strip_step_tag(path: KeyPath) -> KeyPath:
    for i in range(len(path) - 2):
        if path[i] == "steps" and isinstance(path[i + 1], int) and path[i + 2] in STEP_KINDS:
            return (*path[: i + 2], *path[i + 3 :])
    return path


@dataclass
class _Merger:
    """Joins parsed files into one plan set, collecting cross-file issues."""

    issues: list[ConfigIssue] = field(default_factory=list)
    files: list[_Parsed] = field(default_factory=list)
    defined: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {section: {} for section in _SECTIONS}
    )
    where: dict[tuple[str, str], str] = field(default_factory=dict)
    timezone: tuple[ZoneInfo, str] | None = None

    def add(self, parsed: _Parsed) -> None:
        self.files.append(parsed)
        plan = parsed.plan
        if plan.timezone is not None:
            if self.timezone is None:
                self.timezone = (plan.timezone, parsed.where(("timezone",)))
            elif self.timezone[0].key != plan.timezone.key:
                zone, where = self.timezone
                self.issues.append(
                    parsed.issue(
                        ("timezone",),
                        f"time zone {plan.timezone.key!r} differs from {zone.key!r} set in "
                        f"{where} (one plan set has one time zone; override it per route "
                        "or contact)",
                    )
                )
        for section, noun in _SECTIONS.items():
            entries: Mapping[str, Any] = getattr(plan, section)
            for name, value in entries.items():
                path = (section, name)
                if name in self.defined[section]:
                    first = self.where[(section, name)]
                    self.issues.append(
                        parsed.issue(path, f"{noun} {name!r} is already defined in {first}")
                    )
                    continue
                self.defined[section][name] = value
                self.where[(section, name)] = parsed.where(path)

    def finish(self) -> PlanSet:
        routes_seen: dict[str, str] = {}
        catch_all: str | None = None
        last: _Parsed | None = None
        for parsed in self.files:
            for index, route in enumerate(parsed.plan.routes):
                path: KeyPath = ("routes", index)
                last = parsed
                if route.name in routes_seen:
                    self.issues.append(
                        parsed.issue(
                            (*path, "name"),
                            f"route {route.name!r} is already defined in {routes_seen[route.name]}",
                        )
                    )
                routes_seen.setdefault(route.name, parsed.where(path))
                if catch_all is not None:
                    self.issues.append(
                        parsed.issue(
                            path,
                            f"route {route.name!r} can never match: catch-all route "
                            f"{catch_all} takes every alarm before it",
                        )
                    )
                elif route.match.is_catch_all():
                    catch_all = f"{route.name!r} ({parsed.where(path)})"
                self._check_references(parsed, index)
        if catch_all is None:
            anchor = last or (self.files[-1] if self.files else None)
            file = anchor.file if anchor else "<dialplans>"
            line = line_of(anchor.lines, ("routes",)) if anchor else None
            self.issues.append(
                ConfigIssue(
                    file,
                    line,
                    ("routes",),
                    "no catch-all route: the last route must have no match conditions, "
                    "so that every alarm is routed",
                )
            )
        if self.timezone is None:
            file = self.files[0].file if self.files else "<dialplans>"
            self.issues.append(
                ConfigIssue(file, None, ("timezone",), "required in one of the dialplan files")
            )
        holidays: dict[str, list[date]] = self.defined["holidays"]
        return PlanSet(
            timezone=self.timezone[0] if self.timezone else ZoneInfo("UTC"),
            operator_groups=dict(self.defined["operator_groups"]),
            backup_centres=dict(self.defined["backup_centres"]),
            contact_lists=dict(self.defined["contact_lists"]),
            holidays={name: frozenset(dates) for name, dates in holidays.items()},
            routes=tuple(route for parsed in self.files for route in parsed.plan.routes),
            files=tuple(parsed.file for parsed in self.files),
        )

    def _check_references(self, parsed: _Parsed, index: int) -> None:
        route = parsed.plan.routes[index]
        path: KeyPath = ("routes", index)
        for number, step in enumerate(route.steps):
            section = "backup_centres" if isinstance(step, BackupStep) else "operator_groups"
            self._reference(parsed, (*path, "steps", number, step.kind), section, step.target)
        for trigger in Trigger:
            notify = route.triggers.get(trigger)
            if notify is not None:
                where = (*path, "triggers", trigger.value, "notify")
                self._reference(parsed, where, "contact_lists", notify.notify)
        for key in ("holidays", "except_holidays"):
            calendar = getattr(route.match, key)
            if calendar is not None:
                self._reference(parsed, (*path, "match", key), "holidays", calendar)

    def _reference(self, parsed: _Parsed, path: KeyPath, section: str, name: str) -> None:
        if name in self.defined[section]:
            return
        known = ", ".join(sorted(self.defined[section])) or "none"
        self.issues.append(
            parsed.issue(path, f"no {_SECTIONS[section]} named {name!r} (defined: {known})")
        )
