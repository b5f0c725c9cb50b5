"""Map key paths of parsed TOML/YAML documents back to source lines.

Neither ``tomllib`` nor ``yaml.safe_load`` keep positions, so validation errors
would otherwise say *what* is wrong but not *where*. These helpers build a
``{key path: line}`` map next to the parsed data.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.config.errors import ConfigError, ConfigIssue, KeyPath

LineMap = dict[KeyPath, int]
MAX_YAML_VALUES = 100_000
"""Values a YAML file may stand for once its aliases are followed; a few aliases of
aliases can otherwise make a small file expand to billions (a "billion laughs")."""


# --- YAML -----------------------------------------------------------------------------


def load_yaml(text: str, file: str) -> tuple[Any, LineMap]:
    """Parse YAML safely; return the data and the 1-based line of every node.

    Raises ConfigError naming the line for syntax errors.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        raise ConfigError([ConfigIssue(file, line, (), f"YAML syntax error: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(file, None, (), f"YAML syntax error: {exc}")]) from None
    except RecursionError:
        raise ConfigError([ConfigIssue(file, None, (), "YAML nested too deeply")]) from None
    except ValueError as exc:  # a date or time PyYAML matched but cannot build (month 0)
        line = _bad_timestamp_line(node)
        raise ConfigError([ConfigIssue(file, line, (), f"invalid YAML value: {exc}")]) from None
    lines: LineMap = {}
    if node is not None:
        _check_expansion(node, file)
        _walk_yaml(node, (), lines)
    return data, lines


def _bad_timestamp_line(root: yaml.Node | None) -> int | None:
    """The line of the first date or time scalar that cannot be built."""
    pending = [root] if root is not None else []
    seen: set[int] = set()
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:timestamp":
            try:
                yaml.SafeLoader("").construct_yaml_timestamp(node)
            except ValueError:
                return int(node.start_mark.line) + 1
        pending.extend(reversed(_children(node)))
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node, file: str) -> None:
    """Refuse an alias inside the node it names, and files expanding past MAX_YAML_VALUES.

    Each node's expanded size is computed once (aliases share nodes), so this costs
    the size of the file, not of its expansion.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    pending: list[tuple[yaml.Node, bool]] = [(root, False)]
    while pending:
        node, children_done = pending.pop()
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[id(node)] > MAX_YAML_VALUES:
                message = f"expands to more than {MAX_YAML_VALUES} values through YAML aliases"
                raise ConfigError([ConfigIssue(file, node.start_mark.line + 1, (), message)])
        elif id(node) in open_nodes:
            message = "a YAML alias refers to a node that contains it"
            raise ConfigError([ConfigIssue(file, node.start_mark.line + 1, (), message)])
        elif id(node) not in sizes:
            open_nodes.add(id(node))
            pending.append((node, True))
            pending.extend((child, False) for child in _children(node))


def _walk_yaml(node: yaml.Node, path: KeyPath, lines: LineMap) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk_yaml(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk_yaml(item, (*path, index), lines)


# --- TOML -----------------------------------------------------------------------------

_TABLE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\".]+)\s*=")


def _split_dotted(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip('"') for part in key.split("."))


def load_toml(text: str, file: str) -> tuple[dict[str, Any], LineMap]:
    """Parse TOML; return the data and the line of every table and key.

    Arrays of tables get their index in the path, as pydantic reports them.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        raise ConfigError([ConfigIssue(file, line, (), f"TOML syntax error: {exc}")]) from None
    except RecursionError:
        raise ConfigError([ConfigIssue(file, None, (), "TOML nested too deeply")]) from None
    lines: LineMap = {}
    table: KeyPath = ()
    array_counts: dict[KeyPath, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        table_match = _TABLE.match(raw)
        if table_match:
            names = _split_dotted(table_match.group(2))
            if table_match.group(1) == "[[":
                index = array_counts.get(names, 0)
                array_counts[names] = index + 1
                table = (*names, index)
            else:
                table = names
            lines.setdefault(table, number)
            continue
        key_match = _KEY.match(raw)
        if key_match:
            lines.setdefault((*table, *_split_dotted(key_match.group(1))), number)
    return data, lines


# --- errors ---------------------------------------------------------------------------


def line_of(lines: LineMap, path: KeyPath) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    for end in range(len(path), -1, -1):
        found = lines.get(path[:end])
        if found is not None:
            return found
    return None


def issues_from_validation(exc: ValidationError, file: str, lines: LineMap) -> list[ConfigIssue]:
    """Turn pydantic's errors into issues with file, line, key path and a plain message."""
    issues = []
    for error in exc.errors(include_url=False):
        path: KeyPath = tuple(p for p in error["loc"] if isinstance(p, str | int))
        # pydantic puts the tag of discriminated unions in the path; users never wrote it
        path = tuple(p for p in path if not (isinstance(p, str) and p.startswith("function-")))
        message = _plain(error)
        issues.append(ConfigIssue(file, line_of(lines, path), path, message))
    return issues


def _plain(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown option (check its spelling, or remove it)"
    if kind == "missing":
        return "required option is missing"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    inp = error.get("input")
    if kind not in {"missing"} and isinstance(inp, str | int | float | bool):
        return f"{message}, got {inp!r}"
    return message
