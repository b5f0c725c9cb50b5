"""Benchmark: alarm accepted (HTTP 201) -> event received by the monitoring centre's
DC-09 receiver (pysiaalarm, which acknowledges it at once), on loopback.

A real gateway process; alarms posted open-loop at a fixed rate (default 50/s);
latency per alarm = receiver callback time - 201 time, both on this process's clock.

    .venv/bin/python -m bench.dc09_forwarding --rate 50 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from pysiaalarm.account import SIAAccount
from pysiaalarm.aio.client import SIAClient

from bench.common import Gateway, free_port, machine, summary


async def run(rate: float, seconds: float, root: Path) -> dict[str, Any]:
    port = free_port()
    arrived: dict[str, float] = {}

    async def on_event(event: Any) -> None:
        for x in event.extended_data or []:
            if x.identifier == "V":
                arrived[x.value.rsplit("/", 1)[-1]] = time.perf_counter()

    receiver = SIAClient("127.0.0.1", port, [SIAAccount("1234", None)], on_event)  # type: ignore[abstract]
    await receiver.async_start(reuse_address=True)
    gateway = Gateway(root, "full")
    gateway.config.write_text(
        gateway.config.read_text() + f'[dc09]\naccount = "1234"\npoll_interval_s = 30.0\n'
        f'[[dc09.receivers]]\nhost = "127.0.0.1"\nport = {port}\n'
    )
    token = await asyncio.to_thread(gateway.cli, "device", "add", "bench-phone")
    await asyncio.to_thread(gateway.start)
    accepted: dict[str, float] = {}
    try:
        url = f"http://127.0.0.1:{gateway.port}/api/v1/alarms"
        body = {
            "type": "sos",
            "occurred_at": "2026-12-04T10:00:00Z",
            "location": {"lat": 48.85, "lon": 2.35},
        }
        async with aiohttp.ClientSession() as session:
            start = time.perf_counter() + 0.5
            total = int(rate * seconds)

            async def one(i: int) -> None:
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
                headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(i)}
                async with session.post(url, json=body, headers=headers) as answer:
                    alarm_id = (await answer.json())["id"]
                accepted[alarm_id] = time.perf_counter()

            await asyncio.gather(*(one(i) for i in range(total)))
        async with asyncio.timeout(60):
            while len(arrived) < len(accepted):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as session:
            metrics_url = f"http://127.0.0.1:{gateway.port}/metrics"
            async with session.get(metrics_url) as answer:
                send_to_ack = [
                    line
                    for line in (await answer.text()).splitlines()
                    if line.startswith("gateway_outbox_delivery_seconds_bucket")
                ]
    finally:
        gateway.stop()
        await receiver.async_stop()
    latencies = [(arrived[a] - accepted[a]) * 1000 for a in accepted]
    return {
        "machine": machine(),
        "rate_per_s": rate,
        "alarms": len(latencies),
        "lost": len(accepted) - len(arrived),
        **summary(latencies),
        "gateway_send_to_ack_histogram": send_to_ack,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(args.rate, args.seconds, Path(tmp))), indent=2))


if __name__ == "__main__":
    main()
