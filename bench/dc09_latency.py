"""Benchmark Dc09Sender.deliver() latency against pysiaalarm on loopback.

Open loop: events are scheduled at a fixed rate (default 50/s) and each latency is
measured from its *scheduled* time to the return of deliver(), so queueing behind
the one frame in flight is counted. pysiaalarm runs in its own process.

    .venv/bin/python bench/dc09_latency.py --rate 50 --seconds 20
    .venv/bin/python bench/dc09_latency.py --rate 50 --seconds 20 --key 0123456789ABCDEF
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from gateway.dc09.config import Dc09Config
from gateway.dc09.sender import Dc09Sender
from gateway.outbox.events import EventKind, OutboxEvent

RECEIVER = """
import asyncio, sys
from pysiaalarm.account import SIAAccount
from pysiaalarm.aio.client import SIAClient

async def main(port, key):
    async def on_event(event):
        pass
    client = SIAClient("127.0.0.1", port, [SIAAccount("1234", key or None)], on_event)
    await client.async_start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(port: int, key: str | None, rate: float, seconds: float) -> list[float]:
    config = Dc09Config.model_validate(
        {
            "receivers": [{"host": "127.0.0.1", "port": port, "key": key}],
            "account": "1234",
            "poll_interval_s": None,
        }
    )
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    payload: dict[str, Any] = {"alarm_type": "fall", "lat": 48.85837, "lon": 2.294481}

    async with Dc09Sender(config) as sender:
        await sender.deliver(  # warm-up: connection set-up is not part of the figure
            OutboxEvent(0, "bench", 0, EventKind.ALARM_RAISED, datetime.now(UTC), payload)
        )

        async def one(number: int, due: float) -> None:
            await asyncio.sleep(max(0.0, due - loop.time()))
            event = OutboxEvent(
                number, "bench", number, EventKind.ALARM_RAISED, datetime.now(UTC), payload
            )
            await sender.deliver(event)
            latencies.append(loop.time() - due)

        start = loop.time() + 0.1
        count = int(rate * seconds)
        await asyncio.gather(*(one(n + 1, start + n / rate) for n in range(count)))
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--key", help="AES key string, to measure encrypted frames")
    args = parser.parse_args()
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, str(port), args.key or ""],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        if receiver.stdout.readline().strip() != "ready":
            print("pysiaalarm receiver did not start", file=sys.stderr)
            return 1
        wall = time.perf_counter()
        latencies = asyncio.run(run(port, args.key, args.rate, args.seconds))
        wall = time.perf_counter() - wall
    finally:
        receiver.terminate()
        receiver.wait(timeout=5)
    ms = [value * 1000 for value in latencies]
    print(
        f"{len(ms)} events at {args.rate:g}/s ({'AES' if args.key else 'plain'}), "
        f"{wall:.1f} s, Python {platform.python_version()}, {platform.machine()}"
    )
    print(
        f"deliver() latency ms: p50 {statistics.median(ms):.2f}  p99 {percentile(ms, 0.99):.2f}  "
        f"max {max(ms):.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
