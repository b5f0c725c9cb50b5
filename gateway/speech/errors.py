"""Errors of the speech pre-analysis, each saying what is wrong and how to fix it."""

from __future__ import annotations

from pathlib import Path


class SpeechError(Exception):
    """Root of every error raised by ``gateway.speech``."""


class AudioFormatError(SpeechError, ValueError):
    """Audio handed to the analysis is not 16-bit mono PCM at a supported rate."""


class LexiconError(SpeechError, ValueError):
    """A lexicon file is missing, unreadable or malformed."""


class ModelError(SpeechError):
    """A speech model is missing, incomplete or does not load.

    ``path`` is where the model was looked for (None when none is configured) and
    ``hint`` how to install it, so the message is actionable on its own.
    """

    def __init__(self, path: Path | None, problem: str, hint: str) -> None:
        self.path = path
        self.problem = problem
        self.hint = hint
        where = "" if path is None else f" {path}"
        super().__init__(f"speech model{where}: {problem}. {hint}")


class ModelDownloadError(SpeechError):
    """A model download failed, or the archive did not verify."""
