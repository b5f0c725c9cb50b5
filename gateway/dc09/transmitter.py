"""Sans-I/O DC-09 transmitter: one frame in flight, answer time-outs, retries,
fail-over from the primary receiver to backups, NULL supervision polls, link state.

The transmitter owns no socket and reads no clock. Every input takes ``now``
(monotonic seconds and UTC wall time); the adapter pulls ``next_event()`` to learn
what to do (connect, send bytes, close, report results) and arms a timer for
``next_deadline()``, calling ``handle_timeout(now)`` when it fires.

Policy, per message: up to ``attempts`` tries on the current receiver (each with a
fresh connection after a failure, ``retry_delay`` apart), then the next receiver;
when every receiver failed the message fails with ``ReceiverUnreachableError`` and
the link to the monitoring centre is declared lost. After a fail-over, messages
stay on the backup that answered; each NULL poll starts from the primary again,
so traffic returns to it once it answers. A NAK with the receiver's time corrects
the clock offset and resends at once; a DUH fails the message as rejected. Any
answer from a receiver restores the link.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, auto

from gateway.dc09.buffer import DEFAULT_MAX_FRAME, StreamBuffer
from gateway.dc09.content import Message
from gateway.dc09.errors import (
    Dc09Error,
    MessageRejectedError,
    ReceiverUnreachableError,
)
from gateway.dc09.frame import Frame, PadSource, parse_frame, random_pad
from gateway.dc09.grammar import SEQUENCE_MAX, Token
from gateway.outbox.errors import DeliveryError


@dataclass(frozen=True, slots=True)
class Now:
    """The two clocks an input needs: monotonic for deadlines, UTC for timestamps."""

    monotonic: float
    utc: datetime


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How to address one receiver on the wire (its socket address is the adapter's)."""

    line: str = "0"
    receiver: str | None = None
    key: bytes | None = None
    """AES key; set means every frame to this receiver is encrypted."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Transmitter policy; durations in seconds."""

    endpoints: tuple[Endpoint, ...]
    """Primary first, then backups."""
    account: str
    """Account the NULL supervision polls are sent for."""
    answer_timeout: float = 10.0
    connect_timeout: float = 5.0
    attempts: int = 3
    """Tries per receiver before failing over to the next one."""
    retry_delay: float = 1.0
    poll_interval: float | None = 60.0
    """Idle time after which a NULL message checks the link; None: no polls."""
    max_naks: int = 2
    """NAKs accepted (each correcting the clock) before a try counts as failed."""
    max_frame: int = DEFAULT_MAX_FRAME

    def __post_init__(self) -> None:
        if not self.endpoints:
            raise ValueError("At least one receiver endpoint is required.")
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}.")
        for name in ("answer_timeout", "connect_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}.")
        if self.retry_delay < 0:
            raise ValueError(f"retry_delay must be >= 0, got {self.retry_delay}.")
        if self.poll_interval is not None and self.poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0, got {self.poll_interval}.")


# --- events the adapter carries out ------------------------------------------------------


class Event:
    """Marker base of everything ``next_event()`` returns."""


@dataclass(frozen=True, slots=True)
class Connect(Event):
    """Open a connection to ``endpoints[index]``; report with connection_made/failed."""

    index: int


@dataclass(frozen=True, slots=True)
class Transmit(Event):
    """Write these bytes on the open connection."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Close(Event):
    """Close the current connection (or abandon the connection attempt)."""


@dataclass(frozen=True, slots=True)
class Delivered(Event):
    """The receiver acknowledged message ``ticket``."""

    ticket: int
    receiver_index: int


@dataclass(frozen=True, slots=True)
class Failed(Event):
    """Message ``ticket`` was not acknowledged; ``error`` says why."""

    ticket: int
    error: DeliveryError


@dataclass(frozen=True, slots=True)
class LinkLost(Event):
    """No receiver answers: the monitoring centre cannot be reached."""

    reason: str


@dataclass(frozen=True, slots=True)
class LinkRestored(Event):
    """A receiver answered again after the link was lost."""

    receiver_index: int


@dataclass(frozen=True, slots=True)
class TryFailed(Event):
    """One try of a message (ticket) or poll (POLL) on a receiver failed."""

    ticket: int
    receiver_index: int
    reason: str


@dataclass(frozen=True, slots=True)
class FailedOver(Event):
    """Receiver ``from_index`` gave up on a message; ``to_index`` is tried next."""

    from_index: int
    to_index: int
    reason: str


@dataclass(frozen=True, slots=True)
class AnswerIgnored(Event):
    """Bytes from the receiver that did not answer the frame in flight (for logs)."""

    reason: str


# --- the machine ---------------------------------------------------------------------------


class Connection(Enum):
    """State of the transport as far as the transmitter knows."""

    CLOSED = auto()
    CONNECTING = auto()
    OPEN = auto()


POLL = -1
"""Ticket of the internal NULL supervision poll."""


@dataclass(slots=True)
class _Job:
    ticket: int
    message: Message
    sequence: int = 0
    tries: int = 0
    """Failed tries on the current receiver."""
    receivers_tried: int = 0
    naks: int = 0
    awaiting: bool = False
    not_before: float = 0.0
    last_error: str = "not sent"


class Transmitter:
    """DC-09 transmitter state machine for one monitoring centre (primary + backups)."""

    def __init__(self, settings: Settings, now: Now, pad: PadSource = random_pad) -> None:
        self.settings = settings
        self.pad = pad
        self.index = 0
        """Receiver in use: 0 is the primary."""
        self.connection = Connection.CLOSED
        self.link_up = True
        """False from LinkLost until LinkRestored."""
        self.clock_offset = timedelta(0)
        """Receiver time minus ours, learnt from NAKs; added to every timestamp."""
        self._sequence = 0
        self._tickets = 0
        self._queue: deque[_Job] = deque()
        self._job: _Job | None = None
        self._deadline: float | None = None
        self._events: deque[Event] = deque()
        self._buffer = StreamBuffer(settings.max_frame)
        # the first poll goes out at once, so the link state is known from the start
        self._poll_due = now.monotonic if settings.poll_interval is not None else None

    # --- inputs ---------------------------------------------------------------------------

    def submit(self, message: Message, now: Now, sequence: int | None = None) -> int:
        """Queue a message; returns the ticket its Delivered/Failed event will carry.

        ``sequence`` (1-9999) pins the frame's sequence number, so a message sent
        again after a restart carries the same one and the receiver can drop it;
        None takes the next number of this transmitter's own count.
        """
        if sequence is not None and not 1 <= sequence <= SEQUENCE_MAX:
            raise ValueError(f"sequence must be between 1 and {SEQUENCE_MAX}, got {sequence}")
        self._tickets += 1
        self._queue.append(_Job(self._tickets, message, sequence or 0))
        self._pump(now)
        return self._tickets

    def cancel(self, ticket: int) -> bool:
        """Drop a queued message; False if unknown or already in flight."""
        for job in self._queue:
            if job.ticket == ticket:
                self._queue.remove(job)
                return True
        return False

    def connection_made(self, now: Now) -> None:
        """The connection asked for by ``Connect`` is open."""
        if self.connection is Connection.CONNECTING:
            self.connection = Connection.OPEN
            self._buffer = StreamBuffer(self.settings.max_frame)
            self._deadline = None
            self._pump(now)

    def connection_failed(self, reason: str, now: Now) -> None:
        """The connection asked for by ``Connect`` could not be opened."""
        if self.connection is Connection.CONNECTING:
            self.connection = Connection.CLOSED
            self._try_failed(f"cannot connect: {reason}", now)

    def connection_lost(self, reason: str, now: Now) -> None:
        """The open connection closed or broke."""
        if self.connection is not Connection.OPEN:
            return
        self.connection = Connection.CLOSED
        if self._job is not None and self._job.awaiting:
            self._try_failed(f"connection lost: {reason}", now)
        else:
            self._pump(now)

    def receive_data(self, data: bytes, now: Now) -> None:
        """Bytes read from the receiver on the open connection."""
        if self.connection is not Connection.OPEN:
            return  # a late read from a connection already given up
        self._buffer.receive_data(data)
        while self.connection is Connection.OPEN:  # a failed try closes it: drop the rest
            try:
                raw = self._buffer.next_frame()
            except Dc09Error as exc:
                self._bad_answer(str(exc), now)
                continue
            if raw is None:
                return
            try:
                frame = parse_frame(raw, self.settings.endpoints[self.index].key)
            except Dc09Error as exc:
                self._bad_answer(f"invalid answer {raw!r}: {exc}", now)
                continue
            self._answer(frame, now)

    def handle_timeout(self, now: Now) -> None:
        """Call when ``next_deadline()`` has passed."""
        job = self._job
        if job is not None and self._deadline is not None and now.monotonic >= self._deadline:
            self._deadline = None
            if self.connection is Connection.CONNECTING:
                self.connection = Connection.CLOSED
                self._events.append(Close())
                self._try_failed(
                    f"cannot connect: no connection within {self.settings.connect_timeout:g} s", now
                )
                return
            if job.awaiting:
                self._try_failed(f"no answer within {self.settings.answer_timeout:g} s", now)
                return
        self._pump(now)

    # --- outputs --------------------------------------------------------------------------

    def next_event(self) -> Event | None:
        """The next thing for the adapter to do or report, or None."""
        return self._events.popleft() if self._events else None

    def next_deadline(self) -> float | None:
        """Monotonic time at which ``handle_timeout`` must be called, if any."""
        if self._deadline is not None:
            return self._deadline
        if self._job is not None:
            return self._job.not_before
        if not self._queue:
            return self._poll_due
        return None

    @property
    def pending(self) -> int:
        """Messages queued or in flight (polls excluded)."""
        inflight = self._job is not None and self._job.ticket != POLL
        return len(self._queue) + int(inflight)

    # --- internals ------------------------------------------------------------------------

    def _next_sequence(self) -> int:
        self._sequence = self._sequence % SEQUENCE_MAX + 1
        return self._sequence

    def _pump(self, now: Now) -> None:
        """Start the next job, connect, or transmit: whatever the state allows."""
        if self._job is None:
            if self._queue:
                self._job = self._queue.popleft()
            elif self._poll_due is not None and now.monotonic >= self._poll_due:
                self._job = _Job(POLL, Message(Token.NULL, self.settings.account))
                if self.index != 0:  # polls check whether the primary is back
                    self.index = 0
                    if self.connection is not Connection.CLOSED:
                        self.connection = Connection.CLOSED
                        self._events.append(Close())
            else:
                return
        job = self._job
        if job.awaiting or now.monotonic < job.not_before:
            return
        if self.connection is Connection.CLOSED:
            self.connection = Connection.CONNECTING
            self._deadline = now.monotonic + self.settings.connect_timeout
            self._events.append(Connect(self.index))
        elif self.connection is Connection.OPEN:
            self._transmit(job, now)

    def _transmit(self, job: _Job, now: Now) -> None:
        endpoint = self.settings.endpoints[self.index]
        if not job.sequence:
            job.sequence = self._next_sequence()
        frame = Frame(
            token=job.message.token,
            sequence=job.sequence,
            line=endpoint.line,
            receiver=endpoint.receiver,
            account=job.message.account,
            data=job.message.data,
            xdata=job.message.xdata,
            timestamp=(now.utc + self.clock_offset).replace(microsecond=0),
            encrypted=endpoint.key is not None,
        )
        self._events.append(Transmit(frame.serialize(endpoint.key, self.pad)))
        job.awaiting = True
        self._deadline = now.monotonic + self.settings.answer_timeout

    def _answer(self, frame: Frame, now: Now) -> None:
        job = self._job
        if not frame.token.is_answer:
            self._events.append(AnswerIgnored(f"receiver sent a {frame.token.value} message"))
            return
        if job is None or not job.awaiting:
            self._events.append(AnswerIgnored(f"{frame.token.value} with nothing in flight"))
            return
        if frame.token is Token.NAK:
            self._nak(job, frame, now)
            return
        if frame.sequence != job.sequence or (
            frame.account is not None and frame.account.upper() != job.message.account.upper()
        ):
            self._events.append(
                AnswerIgnored(
                    f"{frame.token.value} for sequence {frame.sequence:04d} account "
                    f"{frame.account}, awaiting {job.sequence:04d} account {job.message.account}"
                )
            )
            return
        self._restore_link()
        if frame.token is Token.DUH:
            self._finish(
                job,
                MessageRejectedError(
                    f"receiver {self.index} answered DUH to {job.message.token.value} "
                    f"{job.message.data!r}: it cannot process this message"
                ),
                now,
            )
        else:  # ACK, or RSP which acknowledges too
            self._finish(job, None, now)

    def _nak(self, job: _Job, frame: Frame, now: Now) -> None:
        self._restore_link()
        if frame.timestamp is not None:
            self.clock_offset = frame.timestamp - now.utc.replace(microsecond=0)
        job.naks += 1
        if job.naks > self.settings.max_naks:
            self._try_failed(f"receiver answered NAK {job.naks} times", now)
            return
        self._transmit(job, now)

    def _bad_answer(self, reason: str, now: Now) -> None:
        if self._job is not None and self._job.awaiting:
            self._try_failed(reason, now)
        else:
            self._events.append(AnswerIgnored(reason))

    def _restore_link(self) -> None:
        if not self.link_up:
            self.link_up = True
            self._events.append(LinkRestored(self.index))

    def _finish(self, job: _Job, error: DeliveryError | None, now: Now) -> None:
        self._job = None
        self._deadline = None
        if job.ticket != POLL:
            if error is None:
                self._events.append(Delivered(job.ticket, self.index))
            else:
                self._events.append(Failed(job.ticket, error))
        if self.settings.poll_interval is not None:
            self._poll_due = now.monotonic + self.settings.poll_interval
        self._pump(now)

    def _try_failed(self, reason: str, now: Now) -> None:
        """One try failed: retry, fail over, or give the message up."""
        job = self._job
        self._deadline = None
        if self.connection is not Connection.CLOSED:
            self.connection = Connection.CLOSED
            self._events.append(Close())
        if job is None:
            return
        job.awaiting = False
        job.naks = 0
        job.tries += 1
        self._events.append(TryFailed(job.ticket, self.index, reason))
        job.last_error = f"receiver {self.index}: {reason}"
        job.not_before = now.monotonic + self.settings.retry_delay
        if job.tries < self.settings.attempts:
            self._pump(now)
            return
        job.tries = 0
        job.receivers_tried += 1
        failed_index = self.index
        self.index = (self.index + 1) % len(self.settings.endpoints)
        if job.receivers_tried < len(self.settings.endpoints):
            self._events.append(FailedOver(failed_index, self.index, job.last_error))
            self._pump(now)
            return
        self.index = 0
        error = ReceiverUnreachableError(
            f"no receiver acknowledged after {self.settings.attempts} tries on each of "
            f"{len(self.settings.endpoints)}; last: {job.last_error}"
        )
        if self.link_up:
            self.link_up = False
            self._events.append(LinkLost(str(error)))
        self._finish(job, error, now)
