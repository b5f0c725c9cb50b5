"""Read and validate the TOML configuration file."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from gateway.config.errors import ConfigError, ConfigIssue
from gateway.config.locate import issues_from_validation, load_toml
from gateway.config.schema import Settings
from gateway.dialplan.load import check as check_dialplans

DEFAULT_CONFIG = Path(__file__).with_name("default.toml")


def parse_settings(text: str, file: str) -> Settings:
    """Validate TOML text; raise ConfigError listing every issue with its line."""
    data, lines = load_toml(text, file)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(issues_from_validation(exc, file, lines)) from None


def check_all(path: Path) -> list[ConfigIssue]:
    """Every issue of a configuration file and of the dialplans it points to."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        return list(exc.issues)
    return check_dialplans([settings.dialplan.directory])


def load_settings(path: Path | None) -> Settings:
    """Settings from ``path``, or the embedded defaults when no file is given."""
    if path is None:
        return parse_settings(DEFAULT_CONFIG.read_text(encoding="utf-8"), str(DEFAULT_CONFIG))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue(str(path), None, (), f"cannot read: {exc.strerror}")]
        ) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigIssue(str(path), None, (), "not UTF-8 text")]) from None
    return parse_settings(text, str(path))
