"""Only the adapter imports asyncio or sockets: the protocol core stays sans-I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import gateway.dc09

PACKAGE = Path(gateway.dc09.__file__).parent
ADAPTERS = {"sender.py"}
FORBIDDEN = {"asyncio", "socket", "aiohttp", "time", "selectors"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_modules_do_no_io() -> None:
    core = [p for p in PACKAGE.glob("*.py") if p.name not in ADAPTERS]
    assert len(core) >= 10
    for path in core:
        assert not imported(path) & FORBIDDEN, path.name


def test_core_never_reads_the_clock() -> None:
    for path in PACKAGE.glob("*.py"):
        if path.name in ADAPTERS:
            continue
        text = path.read_text(encoding="utf-8")
        assert "datetime.now" not in text and ".utcnow" not in text, path.name
