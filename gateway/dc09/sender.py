"""asyncio adapter: runs the sans-I/O ``Transmitter`` over TCP or UDP sockets.

This is the outbox's DC-09 sender: ``deliver(event)`` returns once a receiver has
acknowledged the frame and raises a ``DeliveryError`` otherwise. All policy
(time-outs, retries, fail-over, polls, link state) is in ``transmitter.py``; this
module only opens sockets, moves bytes, arms one timer and resolves futures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType

from gateway.dc09.config import Dc09Config, ReceiverConfig
from gateway.dc09.content import Message
from gateway.dc09.errors import SenderClosedError
from gateway.dc09.frame import PadSource, random_pad
from gateway.dc09.grammar import SEQUENCE_MAX
from gateway.dc09.mapping import EventMapping, load_mapping
from gateway.dc09.transmitter import (
    POLL,
    AnswerIgnored,
    Close,
    Connect,
    Delivered,
    Event,
    Failed,
    FailedOver,
    LinkLost,
    LinkRestored,
    Now,
    Transmit,
    Transmitter,
    TryFailed,
)
from gateway.outbox.events import OutboxEvent

log = logging.getLogger("gateway.dc09")

LinkCallback = Callable[[bool, str], None]
"""Called with (link_up, reason) when the monitoring-centre link is lost or restored."""

_READ_SIZE = 4096


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Datagrams(asyncio.DatagramProtocol):
    """UDP: every datagram goes to ``on_data``; ICMP errors to ``on_error``."""

    def __init__(self, on_data: Callable[[bytes], None], on_error: Callable[[str], None]):
        self.on_data = on_data
        self.on_error = on_error

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.on_data(data)

    def error_received(self, exc: Exception) -> None:
        self.on_error(str(exc) or type(exc).__name__)


def sequence_of(event: OutboxEvent) -> int:
    """The DC-09 sequence number of an outbox event: the same on every (re)delivery."""
    return (event.id - 1) % SEQUENCE_MAX + 1


class Dc09Sender:
    """Delivers outbox events to the monitoring centre's DC-09 receivers."""

    def __init__(
        self,
        config: Dc09Config,
        *,
        mapping: EventMapping | None = None,
        on_link_change: LinkCallback | None = None,
        pad: PadSource = random_pad,
        utc_clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """``utc_clock`` stamps frames; receivers correct it by NAK if it is off."""
        self.config = config
        self._utc_clock = utc_clock
        self.mapping = mapping if mapping is not None else load_mapping(config.mapping)
        self.on_link_change = on_link_change
        self._pad = pad
        self._core: Transmitter | None = None
        self._futures: dict[int, asyncio.Future[None]] = {}
        self._wake = asyncio.Event()
        self._driver: asyncio.Task[None] | None = None
        self._io: asyncio.Task[None] | None = None
        self._generation = 0
        self._write: Callable[[bytes], None] | None = None
        self._close: Callable[[], None] | None = None

    @property
    def link_up(self) -> bool:
        """False while no receiver answers (after LinkLost, until LinkRestored)."""
        return self._core is None or self._core.link_up

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the transmitter; the first NULL poll (if enabled) goes out at once."""
        if self._driver is not None:
            return
        self._core = Transmitter(self.config.settings(), self._now(), self._pad)
        self._driver = asyncio.create_task(self._run(), name="dc09-sender")
        self._driver.add_done_callback(self._driver_ended)

    async def stop(self) -> None:
        """Close the connection; pending deliveries fail with SenderClosedError."""
        driver, self._driver = self._driver, None
        if driver is not None and not driver.done():
            driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await driver
        await self._disconnect()
        self._core = None
        futures, self._futures = self._futures, {}
        for future in futures.values():
            if not future.done():
                future.set_exception(SenderClosedError("the DC-09 sender was stopped"))

    async def __aenter__(self) -> Dc09Sender:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- the outbox interface --------------------------------------------------------------

    async def deliver(self, event: OutboxEvent) -> None:
        """Send ``event`` and return once acknowledged; events the mapping skips return at once.

        Raises a DeliveryError subclass when no receiver acknowledged it.
        """
        message = self.mapping.message_for(
            event,
            default_account=self.config.account,
            token=self.config.token,
            xdata=self.config.xdata,
        )
        if message is None:
            log.debug("event %s (%s) is not forwarded over DC-09", event.id, event.kind.value)
            return
        await self.send(message, sequence=sequence_of(event))
        log.info(
            "event %s delivered over DC-09",
            event.id,
            extra={"alarm_id": event.alarm_id, "account": message.account},
        )

    async def send(self, message: Message, sequence: int | None = None) -> None:
        """Send one prepared message and wait for its acknowledgement."""
        core, driver = self._core, self._driver
        if core is None or driver is None:
            raise SenderClosedError("the DC-09 sender is not started")
        if driver.done():
            raise SenderClosedError(f"the DC-09 sender failed: {driver.exception()!r}")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ticket = core.submit(message, self._now(), sequence)
        self._futures[ticket] = future
        self._wake.set()
        try:
            # a crashed driver must fail the delivery, never leave the outbox waiting
            await asyncio.wait({future, driver}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            core.cancel(ticket)
            self._futures.pop(ticket, None)
            raise
        if not future.done():
            self._futures.pop(ticket, None)
            raise SenderClosedError(f"the DC-09 sender failed: {driver.exception()!r}")
        future.result()

    # --- driver -----------------------------------------------------------------------------

    def _now(self) -> Now:
        return Now(asyncio.get_running_loop().time(), self._utc_clock())

    async def _run(self) -> None:
        core = self._core
        assert core is not None
        loop = asyncio.get_running_loop()
        while True:
            self._drain(core)
            deadline = core.next_deadline()
            self._wake.clear()
            delay = None if deadline is None else deadline - loop.time()
            if delay is None or delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
            core.handle_timeout(self._now())

    @staticmethod
    def _driver_ended(driver: asyncio.Task[None]) -> None:
        if not driver.cancelled() and driver.exception() is not None:
            log.critical("DC-09 sender stopped on an error", exc_info=driver.exception())

    def _drain(self, core: Transmitter) -> None:
        while (event := core.next_event()) is not None:
            self._apply(event)

    def _apply(self, event: Event) -> None:
        match event:
            case Connect(index):
                self._connect(self.config.receivers[index])
            case Transmit(data):
                if self._write is not None:
                    self._write(data)
            case Close():
                self._drop_connection()
            case Delivered(ticket):
                self._resolve(ticket, None)
            case Failed(ticket, error):
                log.warning("DC-09 delivery failed: %s", error)
                self._resolve(ticket, error)
            case LinkLost(reason):
                log.error("monitoring-centre link lost: %s", reason)
                self._notify(False, reason)
            case LinkRestored(index):
                log.warning("monitoring-centre link restored via receiver %d", index)
                self._notify(True, f"receiver {index} answered")
            case TryFailed(ticket, index, reason):
                what = "poll" if ticket == POLL else f"message {ticket}"
                log.info("DC-09 %s: try on receiver %d failed: %s", what, index, reason)
            case FailedOver(from_index, to_index, reason):
                log.warning(
                    "DC-09 fail-over from receiver %d to %d: %s", from_index, to_index, reason
                )
            case AnswerIgnored(reason):
                log.warning("DC-09 answer ignored: %s", reason)

    def _resolve(self, ticket: int, error: Exception | None) -> None:
        future = self._futures.pop(ticket, None)
        if future is None or future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

    def _notify(self, up: bool, reason: str) -> None:
        if self.on_link_change is None:
            return
        try:
            self.on_link_change(up, reason)
        except Exception:
            log.exception("link-change callback failed")

    # --- sockets ----------------------------------------------------------------------------

    def _connect(self, receiver: ReceiverConfig) -> None:
        self._drop_connection()
        self._generation += 1
        opener = self._tcp if receiver.protocol == "tcp" else self._udp
        self._io = asyncio.create_task(opener(self._generation, receiver), name="dc09-io")

    def _drop_connection(self) -> None:
        """Forget the current connection at once; its task is cancelled."""
        self._generation += 1
        if self._close is not None:
            self._close()
        self._write = self._close = None
        if self._io is not None:
            self._io.cancel()
            self._io = None

    async def _disconnect(self) -> None:
        io = self._io
        self._drop_connection()
        if io is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await io

    def _current(self, generation: int) -> Transmitter | None:
        """The core, if ``generation`` is still the live connection."""
        return self._core if generation == self._generation else None

    def _input(self, generation: int, act: Callable[[Transmitter, Now], None]) -> None:
        core = self._current(generation)
        if core is not None:
            act(core, self._now())
            self._wake.set()

    def _received(self, generation: int, data: bytes) -> None:
        self._input(generation, lambda core, now: core.receive_data(data, now))

    async def _tcp(self, generation: int, receiver: ReceiverConfig) -> None:
        try:
            reader, writer = await asyncio.open_connection(receiver.host, receiver.port)
        except OSError as exc:
            reason = str(exc) or type(exc).__name__
            self._input(generation, lambda core, now: core.connection_failed(reason, now))
            return
        if self._current(generation) is None:
            writer.close()
            return
        self._write = writer.write
        self._close = writer.close
        self._input(generation, lambda core, now: core.connection_made(now))
        reason = "the receiver closed the connection"
        try:
            while data := await reader.read(_READ_SIZE):
                self._received(generation, data)
        except OSError as exc:
            reason = str(exc) or type(exc).__name__
        finally:
            writer.close()
        self._input(generation, lambda core, now: core.connection_lost(reason, now))

    async def _udp(self, generation: int, receiver: ReceiverConfig) -> None:
        loop = asyncio.get_running_loop()

        def on_error(reason: str) -> None:
            self._input(generation, lambda core, now: core.connection_lost(reason, now))

        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(lambda data: self._received(generation, data), on_error),
                remote_addr=(receiver.host, receiver.port),
            )
        except OSError as exc:
            reason = str(exc) or type(exc).__name__
            self._input(generation, lambda core, now: core.connection_failed(reason, now))
            return
        if self._current(generation) is None:
            transport.close()
            return
        self._write = transport.sendto
        self._close = transport.close
        self._input(generation, lambda core, now: core.connection_made(now))
