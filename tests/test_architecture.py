"""The sans-I/O boundary, enforced: pure modules import no I/O library.

Decision logic (alarm machine, DC-09 codec, dialplan evaluation, speech
analysis) must be testable without sockets, event loops or databases.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "gateway"
IO_MODULES = {
    "asyncio",
    "socket",
    "aiohttp",
    "sqlalchemy",
    "alembic",
    "pjsua2",
    "aiortc",
    "av",
    "subprocess",
    "threading",
    "concurrent",
    "multiprocessing",
    "selectors",
    "ssl",
}
PURE = [
    "alarm",
    "audit/chain.py",
    "audit/export.py",
    "backoffice/agents.py",
    "dialplan",
    "dc09/buffer.py",
    "dc09/content.py",
    "dc09/crypto.py",
    "dc09/errors.py",
    "dc09/frame.py",
    "dc09/grammar.py",
    "dc09/mapping.py",
    "dc09/receiver.py",
    "dc09/transmitter.py",
    "outbox/errors.py",
    "outbox/events.py",
    "outbox/policy.py",
    "speech/audio.py",
    "speech/cues.py",
    "speech/errors.py",
    "speech/events.py",
    "speech/lexicon.py",
    "speech/pipeline.py",
    "speech/vad.py",
    "sip/bridge.py",
    "sip/messages.py",
    "sip/digest.py",
    "sip/mediawatch.py",
    "phone/signals.py",
    "review/figures.py",
    "web/presence.py",
    "web/access.py",
    "tenancy.py",
    "privacy.py",
    "config/errors.py",
    "ids.py",
]


ADAPTERS = {"dialplan/runner.py"}


def pure_files() -> list[Path]:
    files: list[Path] = []
    for entry in PURE:
        path = ROOT / entry
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return [f for f in files if str(f.relative_to(ROOT)) not in ADAPTERS]


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_imports_no_io(path: Path) -> None:
    assert imported_roots(path) & IO_MODULES == set()
