"""Soak benchmark: alarms, SIP calls with speech, WebRTC listeners and DC-09 delivery
against one real gateway for ``--minutes``; checks nothing was lost.

    .venv/bin/python -m bench.soak --minutes 30 --alarm-rate 1.5 --calls 4 --json soak.json

Writes the JSON result (``--json``) and prints a summary; exits 1 when an alarm
or an event was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.soak import results
from bench.soak.scenario import Options, Soak


async def run(options: Options) -> dict[str, Any]:
    soak = Soak(options)
    try:
        await asyncio.to_thread(soak.set_up)
        began = time.monotonic()
        metrics = await soak.load()
        elapsed = time.monotonic() - began
    finally:
        await asyncio.to_thread(soak.stop_processes)
    db = await results.database(soak)
    return await asyncio.to_thread(results.summarise, soak, db, metrics, elapsed)


def lost(result: dict[str, Any]) -> int:
    """Alarms or DC-09 events that did not make it (0 is the only good answer)."""
    a, d = result["alarms"], result["dc09"]
    return int(a["absent_from_db"] + d["missing"] + d["out_of_order_alarms"] + d["dead_letters"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--alarm-rate", type=float, default=1.5, help="alarms per second")
    parser.add_argument("--calls", type=int, default=4, help="concurrent phone calls")
    parser.add_argument("--call-seconds", type=float, default=45.0)
    parser.add_argument("--listeners", type=int, default=2, help="WebRTC operators listening")
    parser.add_argument("--sip-workers", type=int, default=3)
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--workdir", type=Path, help="keep the gateway's data and logs here")
    parser.add_argument("--json", type=Path, help="write the result to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        options = Options(
            minutes=args.minutes,
            alarm_rate=args.alarm_rate,
            calls=args.calls,
            call_s=args.call_seconds,
            listeners=args.listeners,
            sip_workers=args.sip_workers,
            sample_s=args.sample_seconds,
            devices=args.devices,
            workdir=args.workdir or Path(tmp),
        )
        result = asyncio.run(run(options))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(results.table(result))
    sys.exit(1 if lost(result) else 0)


if __name__ == "__main__":
    main()
