"""Configuration errors that tell the user where the problem is and what to fix."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

KeyPath = tuple[str | int, ...]


def format_path(path: KeyPath) -> str:
    """Render a key path the way users read it: ``routes->0->steps->2->timeout``."""
    return "->".join(str(part) for part in path)


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in one file, e.g. ``gateway.toml:12 http->port: expected ...``."""

    file: str
    line: int | None
    path: KeyPath
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        key = format_path(self.path)
        return f"{where} {key}: {self.message}" if key else f"{where}: {self.message}"


class ConfigError(Exception):
    """A configuration or dialplan file was refused; carries every issue found."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: Sequence[ConfigIssue] = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))
