"""The asyncio sender against real receivers on loopback: pysiaalarm (TCP) and our
own receiver core (UDP, since pysiaalarm does not answer UDP on Python 3.11)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from pysiaalarm.account import SIAAccount
from pysiaalarm.aio.client import SIAClient

from gateway.dc09.config import Dc09Config
from gateway.dc09.errors import ReceiverUnreachableError, SenderClosedError
from gateway.dc09.receiver import Received, Receiver
from gateway.dc09.sender import Dc09Sender
from gateway.outbox.events import EventKind, OutboxEvent
from tests.conftest import free_port

pytestmark = pytest.mark.integration

KEY_128 = "0123456789ABCDEF"
KEY_256 = "0123456789ABCDEF0123456789ABCDEF"
NOW = datetime.now(UTC)


class SiaReceiver:
    """pysiaalarm's TCP receiver in this process, collecting the events it accepted."""

    def __init__(self, port: int, account: str = "1234", key: str | None = None) -> None:
        self.port = port
        self.events: list[Any] = []
        self.arrived = asyncio.Event()
        self.client = SIAClient(  # type: ignore[abstract]  # __new__ picks the TCP subclass
            "127.0.0.1", port, [SIAAccount(account, key)], self._on_event
        )

    async def _on_event(self, event: Any) -> None:
        if event.message_type.value != "NULL":
            self.events.append(event)
            self.arrived.set()

    async def start(self) -> None:
        await self.client.async_start(reuse_address=True)

    async def stop(self) -> None:
        await asyncio.sleep(0.05)  # let its handler see our close before the server goes
        await self.client.async_stop()


@asynccontextmanager
async def sia_receiver(port: int = 0, **options: Any) -> AsyncIterator[SiaReceiver]:
    receiver = SiaReceiver(port or free_port(), **options)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


def config(
    *ports: int, key: str | None = None, protocol: str = "tcp", **options: Any
) -> Dc09Config:
    fields: dict[str, Any] = {
        "receivers": [
            {
                "host": "127.0.0.1",
                "port": port,
                "protocol": protocol,
                "receiver": "1",
                "line": "1",
                "key": key,
            }
            for port in ports
        ],
        "account": "1234",
        "answer_timeout_s": 2.0,
        "connect_timeout_s": 1.0,
        "attempts_per_receiver": 2,
        "retry_delay_s": 0.2,
        "poll_interval_s": None,
    }
    fields.update(options)
    return Dc09Config.model_validate(fields)


def outbox_event(number: int, kind: EventKind, **payload: Any) -> OutboxEvent:
    return OutboxEvent(
        number,
        "alarm-1",
        number,
        kind,
        NOW - timedelta(seconds=3),
        {"account": "1234", "lat": 48.85837, "lon": 2.294481, **payload},
        "https://gw.example/alarms/1",
    )


EVENTS = [
    (outbox_event(1, EventKind.ALARM_RAISED, alarm_type="sos"), "PA", "SOS"),
    (outbox_event(2, EventKind.ALARM_RAISED, alarm_type="discreet"), "HA", None),
    (outbox_event(3, EventKind.ALARM_RAISED, alarm_type="fall"), "QA", "fall detected"),
    (outbox_event(4, EventKind.ALARM_RAISED, alarm_type="verticality"), "QA", None),
    (outbox_event(5, EventKind.ALARM_RAISED, alarm_type="no_movement"), "QA", None),
    (outbox_event(6, EventKind.ALARM_RAISED, alarm_type="tear_off"), "QA", None),
    (outbox_event(7, EventKind.ALARM_RAISED, alarm_type="missed_check_in"), "QA", None),
    (outbox_event(8, EventKind.ALARM_RAISED, alarm_type="link_lost"), "US", None),
    (outbox_event(9, EventKind.ALARM_RAISED, alarm_type="low_battery", battery_pct=9), "XT", None),
    (outbox_event(10, EventKind.ALARM_RAISED, alarm_type="test"), "RP", None),
    (outbox_event(11, EventKind.VOICE_CONNECTED, alarm_type="sos", channel="sip"), "LF", None),
    (outbox_event(12, EventKind.LISTEN_STARTED, alarm_type="sos", operator="ana"), "LF", None),
    (outbox_event(13, EventKind.LISTEN_ENDED, alarm_type="sos", operator="ana"), "LE", None),
    (
        outbox_event(14, EventKind.CUE_DETECTED, alarm_type="fall", cue="help", text="aidez-moi"),
        "QA",
        "help: aidez-moi",
    ),
    (outbox_event(15, EventKind.ALARM_CANCELLED, alarm_type="fall"), "OC", None),
    (outbox_event(16, EventKind.ALARM_CLOSED, alarm_type="sos", outcome="agent_safe"), "PR", None),
    (outbox_event(17, EventKind.VOICE_LOST, alarm_type="sos", reason="bye"), "LE", None),
]


def xdata(event: Any) -> dict[str, str]:
    return {x.identifier: x.value for x in event.extended_data or []}


@pytest.mark.parametrize("key", [None, KEY_128, KEY_256], ids=["plain", "aes128", "aes256"])
async def test_every_mapped_event_reaches_pysiaalarm(key: str | None) -> None:
    async with (
        sia_receiver(key=key) as receiver,
        Dc09Sender(config(receiver.port, key=key)) as sender,
    ):
        for event, _, _ in EVENTS:
            await sender.deliver(event)
        # not forwarded: returns at once, nothing sent
        await sender.deliver(outbox_event(18, EventKind.ALARM_ACCEPTED, alarm_type="sos"))
    got = receiver.events
    assert [e.code for e in got] == [code for _, code, _ in EVENTS]
    assert {e.account for e in got} == {"1234"}
    assert [e.encrypted for e in got] == [key is not None] * len(EVENTS)
    first = xdata(got[0])
    assert (first["X"], first["Y"]) == ("2.294481", "48.858370")
    assert first["V"] == "https://gw.example/alarms/1"
    assert first["H"] == (NOW - timedelta(seconds=3)).strftime("%H:%M:%S,%m-%d-%Y")
    for received, (_, _, text) in zip(got, EVENTS, strict=True):
        if text is not None:
            assert xdata(received)["I"] == text
    assert [int(e.sequence) for e in got] == list(range(1, len(EVENTS) + 1))


async def test_redelivery_after_a_restart_carries_the_same_sequence() -> None:
    """At-least-once delivery: a receiver drops a duplicate by its sequence number."""
    event = outbox_event(10_005, EventKind.ALARM_RAISED, alarm_type="sos")
    async with sia_receiver() as receiver:
        for _ in range(2):  # two sender lifetimes, as across a gateway restart
            async with Dc09Sender(config(receiver.port)) as sender:
                await sender.deliver(event)
    assert [int(e.sequence) for e in receiver.events] == [6, 6]


async def test_adm_cid_format() -> None:
    async with sia_receiver() as receiver:
        # pysiaalarm reads a single xdata block in ADM-CID messages
        cfg = config(receiver.port, format="ADM-CID", xdata=["I"])
        async with Dc09Sender(cfg) as sender:
            for event, _, _ in EVENTS[:3]:
                await sender.deliver(event)
    got = receiver.events
    assert [(e.event_qualifier, e.event_type, e.code) for e in got] == [
        ("1", "120", "PA"),
        ("1", "121", "HA"),
        ("1", "101", "QA"),
    ]
    assert xdata(got[2]) == {"I": "fall detected"}


async def test_nak_on_skewed_clock_is_recovered() -> None:
    async with sia_receiver() as receiver:
        skewed = Dc09Sender(
            config(receiver.port), utc_clock=lambda: datetime.now(UTC) - timedelta(minutes=5)
        )
        async with skewed as sender:
            await sender.deliver(EVENTS[0][0])
            assert skewed._core is not None
            offset = skewed._core.clock_offset
    assert timedelta(minutes=5) - timedelta(seconds=2) <= offset <= timedelta(minutes=5, seconds=2)
    assert [e.code for e in receiver.events] == ["PA"]
    assert receiver.client.counts.get("timestamp") == 1


async def test_primary_down_backup_receives() -> None:
    dead = free_port()
    async with sia_receiver() as backup, Dc09Sender(config(dead, backup.port)) as sender:
        await sender.deliver(EVENTS[0][0])
        assert sender.link_up
    assert [e.code for e in backup.events] == ["PA"]


async def test_receiver_down_then_up_delivers_after_retries() -> None:
    port = free_port()
    cfg = config(port, attempts_per_receiver=20, retry_delay_s=0.2)
    async with Dc09Sender(cfg) as sender:
        delivery = asyncio.create_task(sender.deliver(EVENTS[0][0]))
        await asyncio.sleep(1.0)
        assert not delivery.done()
        async with sia_receiver(port) as receiver:
            await asyncio.wait_for(delivery, 10)
            await sender.stop()  # before the receiver, which cannot close a live connection
    assert [e.code for e in receiver.events] == ["PA"]


async def test_link_lost_and_restored_by_polls() -> None:
    port = free_port()
    changes: list[tuple[bool, str]] = []
    restored = asyncio.Event()

    def link_changed(up: bool, why: str) -> None:
        changes.append((up, why))
        if up:
            restored.set()

    cfg = config(port, attempts_per_receiver=1, poll_interval_s=0.5)
    async with Dc09Sender(cfg, on_link_change=link_changed) as sender:
        with pytest.raises(ReceiverUnreachableError, match="cannot connect"):
            await sender.deliver(EVENTS[0][0])
        assert not sender.link_up
        async with sia_receiver(port):
            await asyncio.wait_for(restored.wait(), 10)
            assert sender.link_up
            await sender.stop()
    assert [up for up, _ in changes] == [False, True]
    assert changes[1][1] == "receiver 0 answered"


async def test_not_started_and_stopped() -> None:
    sender = Dc09Sender(config(free_port()))
    with pytest.raises(SenderClosedError, match=r"^the DC-09 sender is not started$"):
        await sender.deliver(EVENTS[0][0])
    await sender.start()
    pending = asyncio.create_task(sender.deliver(EVENTS[0][0]))
    await asyncio.sleep(0.05)
    await sender.stop()
    with pytest.raises(SenderClosedError, match=r"^the DC-09 sender was stopped$"):
        await pending


@contextmanager
def udp_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


class UdpReceiver(asyncio.DatagramProtocol):
    def __init__(self, key: bytes | None) -> None:
        self.core = Receiver({"1234": key})
        self.received: list[Received] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        decision = self.core.handle_frame(data, datetime.now(UTC))
        if isinstance(decision, Received):
            self.received.append(decision)
        assert self.transport is not None
        self.transport.sendto(decision.answer, addr)


async def test_udp_with_our_receiver() -> None:
    loop = asyncio.get_running_loop()
    with udp_socket() as sock:
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: UdpReceiver(KEY_128.encode()), sock=sock
        )
        try:
            port = sock.getsockname()[1]
            async with Dc09Sender(config(port, key=KEY_128, protocol="udp")) as sender:
                await sender.deliver(EVENTS[0][0])
                await sender.deliver(EVENTS[2][0])
        finally:
            transport.close()
    assert [r.frame.data for r in protocol.received] == ["#1234|Nri1/PA001", "#1234|Nri1/QA001"]
    assert all(r.frame.encrypted for r in protocol.received)


async def test_a_crashed_driver_fails_deliveries_instead_of_hanging() -> None:
    async with sia_receiver() as receiver:
        sender = Dc09Sender(config(receiver.port))
        await sender.start()
        assert sender._core is not None

        def broken(now: object) -> None:
            raise RuntimeError("bug")

        sender._core.handle_timeout = broken  # type: ignore[method-assign]
        pending = asyncio.create_task(sender.deliver(EVENTS[0][0]))
        with pytest.raises(SenderClosedError, match=r"^the DC-09 sender failed: RuntimeError"):
            await asyncio.wait_for(pending, 5)
        with pytest.raises(SenderClosedError, match=r"^the DC-09 sender failed: RuntimeError"):
            await sender.deliver(EVENTS[0][0])
        await sender.stop()
