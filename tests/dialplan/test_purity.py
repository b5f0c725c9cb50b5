"""The dialplan package stays sans-I/O: no event loop, sockets, subprocesses or clocks."""

from __future__ import annotations

import ast
from pathlib import Path

import gateway.dialplan

FORBIDDEN_MODULES = {
    "asyncio",
    "socket",
    "subprocess",
    "threading",
    "time",
    "aiohttp",
    "pjsua2",
    "aiortc",
}
CLOCK_READS = {"now", "utcnow", "today", "monotonic", "time", "sleep"}
PACKAGE = Path(gateway.dialplan.__file__).parent
ADAPTER = "runner.py"  # the asyncio runner drives the pure machine from outside


def pure_sources() -> list[Path]:
    return [s for s in sorted(PACKAGE.glob("*.py")) if s.name != ADAPTER]


def test_no_io_imports_and_no_clock_reads() -> None:
    found = []
    for source in pure_sources():
        tree = ast.parse(source.read_text(), str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                names = []
            found += [
                f"{source.name} imports {n}" for n in names if n.split(".")[0] in FORBIDDEN_MODULES
            ]
            if _reads_clock(node):
                found.append(f"{source.name}:{getattr(node, 'lineno', 0)} reads the clock")
    assert found == []
    # the library may read files (that is its job), nothing else may
    readers = {s.name for s in pure_sources() if "read_text" in s.read_text()}
    assert readers == {"load.py"}


def _reads_clock(node: ast.AST) -> bool:
    """``datetime.now()``, ``date.today()`` and the like (``local.time()`` is fine)."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in {"datetime", "date", "time"}
        and node.func.attr in CLOCK_READS
    )
