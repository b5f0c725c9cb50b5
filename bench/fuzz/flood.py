"""SIP INVITE flood from one source at one worker: at which rate does it stop answering?

For each rate, a fresh worker gets well-formed INVITEs (each a new call with SDP)
from 127.0.0.2 for ``--seconds``; one second in, a probe from 127.0.0.1 sends an
OPTIONS and an INVITE five times. Reported per rate: requests sent, answers the
flood got, probes answered (OPTIONS 200, INVITE decided), whether the worker died.

    .venv/bin/python -m bench.fuzz.flood --rates 15 30 60 120 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from bench.fuzz.sip import one_worker
from bench.fuzz.sipwire import Probe, flood, invite, request


async def one_rate(rate: float, seconds: float) -> dict[str, object]:
    supervisor, handler = await one_worker()
    target = ("127.0.0.1", supervisor.worker_ports()[0])
    pid = supervisor.worker_pid(0)
    flooding = asyncio.create_task(asyncio.to_thread(flood, target, seconds, rate, "127.0.0.2"))
    await asyncio.sleep(1.0)
    probe = Probe.open(target)
    answered = 0
    try:
        for _ in range(5):
            options = await asyncio.to_thread(probe.ask, request("OPTIONS", target, probe.local), 2)
            decided = await asyncio.to_thread(probe.ask, invite(target, probe.local), 2)
            answered += options == 200 and decided == 403
    finally:
        probe.close()
    sent, answers = await flooding
    died = supervisor.worker_pid(0) != pid or bool(handler.deaths)
    await supervisor.stop()
    return {"rate": rate, "sent": sent, "flood_answers": answers, "probes_answered": answered,
            "probes": 5, "worker_died": died}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[15, 30, 60, 120, 300])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    results = [asyncio.run(one_rate(rate, args.seconds)) for rate in args.rates]
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
