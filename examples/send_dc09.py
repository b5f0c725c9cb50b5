"""Send alarm events to a DC-09 receiver the way the gateway's outbox does.

    .venv/bin/python examples/send_dc09.py --port 10001 --account 1234 --alarm-type fall \\
        --lat 48.85837 --lon 2.294481
    .venv/bin/python examples/send_dc09.py --port 10001 --account 1234 \\
        --key 0123456789ABCDEF --kind alarm.closed --count 3 --format ADM-CID
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from gateway.alarm.types import AlarmType
from gateway.dc09.config import Dc09Config
from gateway.dc09.sender import Dc09Sender
from gateway.outbox.errors import DeliveryError
from gateway.outbox.events import EventKind, OutboxEvent


def build_config(args: argparse.Namespace) -> Dc09Config:
    """The [dc09] section these arguments stand for."""
    receivers: list[dict[str, Any]] = [
        {"host": args.host, "port": port, "protocol": "udp" if args.udp else "tcp", "key": args.key}
        for port in [args.port, *args.backup_port]
    ]
    return Dc09Config.model_validate(
        {
            "receivers": receivers,
            "account": args.account,
            "format": args.format,
            "answer_timeout_s": args.timeout,
            "poll_interval_s": None,
        }
    )


async def send(config: Dc09Config, events: list[OutboxEvent]) -> None:
    """Deliver each event in turn and print how long its acknowledgement took."""
    async with Dc09Sender(config) as sender:
        for event in events:
            started = time.perf_counter()
            await sender.deliver(event)
            elapsed = (time.perf_counter() - started) * 1000
            print(f"event {event.id} ({event.kind.value}) acknowledged in {elapsed:.1f} ms")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=10001)
    parser.add_argument("--backup-port", type=int, action="append", default=[])
    parser.add_argument("--udp", action="store_true")
    parser.add_argument("--account", default="1234")
    parser.add_argument("--key", help="AES key string (16, 24 or 32 characters)")
    parser.add_argument("--format", choices=["SIA-DCS", "ADM-CID"], default="SIA-DCS")
    parser.add_argument("--kind", choices=[k.value for k in EventKind], default="alarm.raised")
    parser.add_argument("--alarm-type", choices=[t.value for t in AlarmType], default="sos")
    parser.add_argument("--lat", type=float)
    parser.add_argument("--lon", type=float)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=5.0, help="answer time-out, seconds")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        config = build_config(args)
    except ValidationError as exc:
        parser.error(str(exc))
    payload: dict[str, Any] = {"alarm_type": args.alarm_type, "outcome": "agent_safe"}
    if args.lat is not None and args.lon is not None:
        payload.update(lat=args.lat, lon=args.lon)
    events = [
        OutboxEvent(n, "example", n, EventKind(args.kind), datetime.now(UTC), payload)
        for n in range(1, args.count + 1)
    ]
    try:
        asyncio.run(send(config, events))
    except DeliveryError as exc:
        print(f"not delivered: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
