"""The monitoring centre's DC-09 receiver (pysiaalarm) as its own process.

Acknowledges every frame and appends one JSON line per event to ``--out``:
the wall-clock time of arrival, the DC-09 sequence, the SIA code and the alarm
id from xdata V. Its own process so its CPU and memory are measured apart.

    python -m bench.soak.receiver --port 12000 --out received.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

from pysiaalarm.account import SIAAccount
from pysiaalarm.aio.client import SIAClient

ACCOUNT = "1234"


async def serve(port: int, out: Path) -> None:
    with out.open("a", buffering=1) as sink:

        async def on_event(event: Any) -> None:
            reference = next(
                (x.value for x in event.extended_data or [] if x.identifier == "V"), None
            )
            line = {
                "at": time.time(),
                "sequence": int(event.sequence or 0),
                "code": event.code,
                "alarm_id": reference.rsplit("/", 1)[-1] if reference else None,
            }
            sink.write(json.dumps(line) + "\n")

        client = SIAClient("127.0.0.1", port, [SIAAccount(ACCOUNT, None)], on_event)  # type: ignore[abstract]
        await client.async_start(reuse_address=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print("ready", flush=True)
        await stop.wait()
        await client.async_stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.out))


if __name__ == "__main__":
    main()
