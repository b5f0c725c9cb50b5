"""The wheel carries every data file the gateway reads at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.integration
def test_wheel_contains_migrations_console_lexicons_and_defaults(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    [wheel] = tmp_path.glob("alarm_gateway-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    needed = {
        "gateway/py.typed",
        "gateway/config/default.toml",
        "gateway/dc09/mapping.yaml",
        "gateway/store/migrations/env.py",
        "gateway/store/migrations/script.py.mako",
        "gateway/store/migrations/versions/0001_initial.py",
        "gateway/speech/lexicons/fr.yaml",
        "gateway/speech/lexicons/en.yaml",
        "gateway/web/static/console.html",
        "gateway/web/static/common.js",
    }
    assert needed - names == set()
