"""Line maps of YAML and TOML documents."""

from __future__ import annotations

import pytest

from gateway.config.errors import ConfigError
from gateway.config.locate import line_of, load_toml, load_yaml


def test_yaml_lines_of_nested_keys_and_list_items() -> None:
    data, lines = load_yaml("a:\n  b:\n    - x: 1\n    - y: 2\n", "f.yaml")
    assert data == {"a": {"b": [{"x": 1}, {"y": 2}]}}
    assert lines[("a", "b", 1, "y")] == 4
    assert line_of(lines, ("a", "b", 1, "y", "deeper")) == 4


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_yaml("a: [1, 2\nb: 3\n", "f.yaml")
    [issue] = caught.value.issues
    assert issue.file == "f.yaml"
    assert issue.line == 2
    assert issue.message.startswith("YAML syntax error: ")


def test_toml_arrays_of_tables_are_indexed() -> None:
    text = "x = 1\n[[sip.workers]]\nport = 1\n[[sip.workers]]\nport = 2\n"
    data, lines = load_toml(text, "f.toml")
    assert data["sip"]["workers"][1]["port"] == 2
    assert lines[("sip", "workers", 1, "port")] == 5
    assert lines[("x",)] == 1
