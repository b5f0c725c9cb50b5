"""Fuzz the TOML settings loader: any file must load or be refused with ConfigError.

Each input is written to a file and loaded as ``alarm-gateway --config`` does,
so undecodable bytes, TOML syntax and every settings check are reached.

    .venv/bin/python -m bench.fuzz.config --minutes 10
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.fuzz.common import arguments, fuzz
from gateway.config.errors import ConfigError
from gateway.config.load import DEFAULT_CONFIG, load_settings

FILE = Path(tempfile.mkdtemp(prefix="fuzz-config-")) / "gateway.toml"
SMALL = b"""[gateway]
data_dir = "/var/lib/alarm-gateway"
[http]
port = 8080
[sip]
workers = 2
base_port = 5070
[[dc09.receivers]]
host = "127.0.0.1"
port = 9000
"""


def target(data: bytes) -> None:
    FILE.write_bytes(data)
    load_settings(FILE)


def main() -> None:
    fuzz("config", target, (ConfigError,), [DEFAULT_CONFIG.read_bytes(), SMALL],
         arguments(__doc__ or ""), ("gateway.", "tomllib"))  # fmt: skip


if __name__ == "__main__":
    main()
