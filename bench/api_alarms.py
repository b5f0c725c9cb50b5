"""Benchmark POST /api/v1/alarms against a real gateway process with SQLite.

Two measurements in one run, so the ratios hold on a noisy shared machine:
- open loop at a fixed rate (default 200 alarms/s): latency p50/p99/max, measured
  from the *scheduled* send time so a stalled server cannot hide its queue;
- closed loop with N concurrent clients: the most alarms per second it accepts.

    .venv/bin/python -m bench.api_alarms --rate 200 --seconds 30
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

from bench.common import Gateway, machine, summary

ALARM = {
    "type": "sos",
    "occurred_at": "2026-12-04T10:00:00Z",
    "location": {"lat": 48.8566, "lon": 2.3522, "accuracy_m": 12},
    "battery_pct": 50,
}


async def post(session: aiohttp.ClientSession, url: str, token: str, key: str) -> int:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    async with session.post(url, json=ALARM, headers=headers) as answer:
        await answer.read()
        return answer.status


async def open_loop(
    url: str, tokens: list[str], rate: float, seconds: float, tag: str = "open"
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:
        start = time.perf_counter() + 0.2
        total = int(rate * seconds)

        async def one(i: int) -> None:
            nonlocal errors
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            status = await post(session, url, tokens[i % len(tokens)], f"{tag}-{i}")
            latencies.append((time.perf_counter() - scheduled) * 1000)
            errors += status != 201

        await asyncio.gather(*(one(i) for i in range(total)))
    return {
        "rate_per_s": rate,
        "alarms": len(latencies),
        "errors": errors,
        **summary(latencies),
    }


async def closed_loop(url: str, tokens: list[str], clients: int, seconds: float) -> dict[str, Any]:
    done = 0
    errors = 0
    stop = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:

        async def client(c: int) -> None:
            nonlocal done, errors
            n = 0
            while time.perf_counter() < stop:
                status = await post(session, url, tokens[c % len(tokens)], f"closed-{c}-{n}")
                n += 1
                done += 1
                errors += status != 201

        began = time.perf_counter()
        await asyncio.gather(*(client(c) for c in range(clients)))
        elapsed = time.perf_counter() - began
    return {
        "clients": clients,
        "alarms": done,
        "errors": errors,
        "alarms_per_s": round(done / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--synchronous", choices=["full", "normal"], default="full")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gateway = Gateway(Path(tmp), args.synchronous)
        tokens = [gateway.cli("device", "add", f"bench-{n}") for n in range(args.devices)]
        gateway.start()
        url = f"http://127.0.0.1:{gateway.port}/api/v1/alarms"
        # warm-up, not counted: worker processes finish loading their models
        asyncio.run(open_loop(url, tokens, args.rate / 4, 5.0, tag="warm"))
        try:
            result = {
                "machine": machine(),
                "sqlite_synchronous": args.synchronous,
                "open_loop": asyncio.run(open_loop(url, tokens, args.rate, args.seconds)),
                "closed_loop": asyncio.run(
                    closed_loop(url, tokens, args.clients, args.seconds / 2)
                ),
            }
        finally:
            gateway.stop()
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
