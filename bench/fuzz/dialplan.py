"""Fuzz the YAML dialplan loader: any file must load or be refused with ConfigError.

.venv/bin/python -m bench.fuzz.dialplan --minutes 10
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.fuzz.common import arguments, fuzz
from gateway.config.errors import ConfigError
from gateway.dialplan.load import load_plan_set

FILE = Path(tempfile.mkdtemp(prefix="fuzz-dialplan-")) / "plan.yaml"
BUNDLED = Path(__file__).resolve().parents[2] / "dialplans" / "default.yaml"
SMALL = b"""timezone: Europe/Paris
operator_groups:
  duty: {members: [ana, bob], strategy: all_at_once}
contact_lists:
  managers: {contacts: [{name: Max, phone: "+33100000000"}], ack_timeout: 120}
routes:
  - name: falls
    match: {alarm_type: [fall], tenant: acme}
    steps:
      - {offer: duty, timeout: 60}
      - {notify: managers}
    callback: {attempts: 3, spacing: 20}
"""


def target(data: bytes) -> None:
    FILE.write_bytes(data)
    load_plan_set([FILE])


def main() -> None:
    fuzz("dialplan", target, (ConfigError,), [BUNDLED.read_bytes(), SMALL],
         arguments(__doc__ or ""), ("gateway.", "yaml"))  # fmt: skip


if __name__ == "__main__":
    main()
