"""Configuration errors name file, line, key and what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config.errors import ConfigError
from gateway.config.load import DEFAULT_CONFIG, load_settings, parse_settings
from gateway.config.schema import Settings


def test_embedded_defaults_equal_the_schema_defaults() -> None:
    """default.toml documents the defaults: it must not drift from the code."""
    assert load_settings(None) == Settings()


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "gw.toml")
    return [str(issue) for issue in caught.value.issues]


def test_each_problem_is_reported_with_its_line() -> None:
    text = "\n".join(
        [
            "[http]",
            "port = 99999",
            "hots = '0.0.0.0'",
            "[database]",
            "url = 'mysql://db/x'",
            "[log]",
            "level = 'loud'",
        ]
    )
    assert issues(text) == [
        "gw.toml:2 http->port: Input should be less than or equal to 65535, got 99999",
        "gw.toml:3 http->hots: unknown option (check its spelling, or remove it)",
        "gw.toml:5 database->url: expected a sqlite:/// or postgresql+psycopg:// URL,"
        " got 'mysql://db/x'",
        "gw.toml:7 log->level: Input should be 'debug', 'info', 'warning' or 'error', got 'loud'",
    ]


def test_unknown_section() -> None:
    assert issues("[htp]\nport = 1\n") == [
        "gw.toml:1 htp: unknown option (check its spelling, or remove it)"
    ]


def test_syntax_error_names_the_line() -> None:
    [message] = issues("[http]\nport = = 3\n")
    assert message.startswith("gw.toml:2: TOML syntax error: ")


def test_wrong_type() -> None:
    assert issues("[http]\n\nport = 'eighty'\n") == [
        "gw.toml:3 http->port: Input should be a valid integer, unable to parse string as an"
        " integer, got 'eighty'"
    ]


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.toml"
    good.write_text(DEFAULT_CONFIG.read_text())
    assert main(["check-config", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: OK\n"
    bad = tmp_path / "bad.toml"
    bad.write_text("[http]\nport = -1\n")
    assert main(["check-config", str(bad)]) == 1
    assert capsys.readouterr().err == (
        f"{bad}:2 http->port: Input should be greater than or equal to 0, got -1\n"
    )
    assert main(["check-config", str(tmp_path / "missing.toml")]) == 1
    assert "cannot read: No such file or directory" in capsys.readouterr().err
