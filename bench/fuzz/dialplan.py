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
  duty: {members: [ana, bob, "sip:desk1@pbx.example.org"], strategy: all_at_once}
contact_lists:
  managers:
    ack_timeout: 45
    contacts:
      - {name: Max, sip: "sip:+33100000001@trunk.example.org"}
x-steps: &steps
  - {offer: duty, timeout: 60}
routes:
  - name: falls
    match: {alarm_types: [fall], tenants: [acme]}
    steps: *steps
    callback: {attempts: 3, spacing: 20}
    triggers: {dispatch: {notify: managers, message: "Alarm for {agent}"}}
  - name: default
    steps: *steps
"""


def target(data: bytes) -> None:
    FILE.write_bytes(data)
    load_plan_set([FILE])


def main() -> None:
    fuzz("dialplan", target, (ConfigError,), [BUNDLED.read_bytes(), SMALL],
         arguments(__doc__ or ""), ("gateway.", "yaml"))  # fmt: skip


if __name__ == "__main__":
    main()
