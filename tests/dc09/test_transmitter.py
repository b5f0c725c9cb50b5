"""The transmitter machine against in-memory receivers: no loop, no sockets, no sleeps."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.dc09.content import Message
from gateway.dc09.errors import MessageRejectedError, ReceiverUnreachableError
from gateway.dc09.frame import Frame
from gateway.dc09.grammar import Token
from gateway.dc09.receiver import Received, Receiver
from gateway.dc09.transmitter import (
    AnswerIgnored,
    Close,
    Connect,
    Connection,
    Delivered,
    Endpoint,
    Event,
    Failed,
    FailedOver,
    LinkLost,
    LinkRestored,
    Now,
    Settings,
    Transmit,
    Transmitter,
)
from tests.dc09.vectors import KEY_128

START = datetime(2026, 12, 4, 21, 0, 0, tzinfo=UTC)
PANIC = Message(Token.SIA_DCS, "1234", "#1234|Nri1/PA001")


@dataclass
class Peer:
    """One in-memory receiver: up or down, with its own clock skew."""

    receiver: Receiver
    up: bool = True
    skew: timedelta = timedelta(0)
    silent: bool = False
    answer: bytes | None = None
    """If set, sent instead of the receiver's own answer."""
    got: list[Frame] = field(default_factory=list)


class Pair:
    """A transmitter wired to peers; ``run`` carries out its events until it is idle."""

    def __init__(self, peers: list[Peer], **settings: object) -> None:
        endpoints = tuple(
            Endpoint(line="1", receiver="1", key=p.receiver.accounts["1234"]) for p in peers
        )
        options: dict[str, object] = {"account": "1234", "poll_interval": None}
        options.update(settings)
        self.settings = Settings(endpoints=endpoints, **options)  # type: ignore[arg-type]
        self.peers = peers
        self.clock = 0.0
        self.tx = Transmitter(self.settings, self.now())
        self.events: list[Event] = []
        self.open: int | None = None

    def now(self) -> Now:
        return Now(self.clock, START + timedelta(seconds=self.clock))

    def run(self) -> list[Event]:
        """Carry out events until none are left; returns the events seen."""
        seen: list[Event] = []
        while (event := self.tx.next_event()) is not None:
            seen.append(event)
            if isinstance(event, Connect):
                if self.peers[event.index].up:
                    self.open = event.index
                    self.tx.connection_made(self.now())
                else:
                    self.tx.connection_failed("refused", self.now())
            elif isinstance(event, Close):
                self.open = None
            elif isinstance(event, Transmit):
                assert self.open is not None
                self.deliver(self.peers[self.open], event.data)
        self.events += seen
        return seen

    def deliver(self, peer: Peer, data: bytes) -> None:
        if peer.silent:
            return
        peer.receiver.receive_data(data)
        decision = peer.receiver.next_event(self.now().utc + peer.skew)
        assert decision is not None
        if isinstance(decision, Received):
            peer.got.append(decision.frame)
        self.tx.receive_data(peer.answer or decision.answer, self.now())

    def advance(self, seconds: float) -> list[Event]:
        """Let time pass, firing every deadline on the way."""
        target = self.clock + seconds
        seen: list[Event] = []
        while (deadline := self.tx.next_deadline()) is not None and deadline <= target:
            self.clock = max(self.clock, deadline)
            self.tx.handle_timeout(self.now())
            seen += self.run()
        self.clock = target
        return seen

    def submit(self, message: Message = PANIC) -> int:
        ticket = self.tx.submit(message, self.now())
        self.run()
        return ticket


def plain() -> Peer:
    return Peer(Receiver({"1234": None}))


def encrypted() -> Peer:
    return Peer(Receiver({"1234": KEY_128}))


def results(events: list[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, Delivered | Failed | LinkLost | LinkRestored)]


def test_ack_delivers() -> None:
    pair = Pair([plain()])
    ticket = pair.submit()
    assert results(pair.events) == [Delivered(ticket, 0)]
    [frame] = pair.peers[0].got
    assert (frame.sequence, frame.data, frame.timestamp) == (1, PANIC.data, START)
    assert pair.tx.next_deadline() is None
    assert pair.tx.connection is Connection.OPEN


def test_encrypted_ack_delivers() -> None:
    pair = Pair([encrypted()])
    ticket = pair.submit()
    assert results(pair.events) == [Delivered(ticket, 0)]
    assert pair.peers[0].got[0].encrypted


def test_first_poll_goes_out_at_start_then_every_interval() -> None:
    pair = Pair([plain()], poll_interval=60.0)
    assert pair.tx.next_deadline() == 0.0
    pair.advance(0)
    assert [f.token for f in pair.peers[0].got] == [Token.NULL]
    assert pair.tx.next_deadline() == 60.0
    pair.advance(59)
    assert len(pair.peers[0].got) == 1
    pair.advance(1)
    assert [f.sequence for f in pair.peers[0].got] == [1, 2]


def test_messages_postpone_the_poll() -> None:
    pair = Pair([plain()], poll_interval=60.0)
    pair.advance(30)
    pair.submit()
    assert pair.tx.next_deadline() == 90.0


def test_silent_receiver_retries_then_fails_over_to_backup() -> None:
    primary, backup = plain(), plain()
    primary.silent = True
    pair = Pair([primary, backup], answer_timeout=10.0, attempts=2, retry_delay=1.0)
    ticket = pair.submit()
    pair.advance(10)  # first try times out; retry 1 s later
    pair.advance(12)  # second try (11-21 s) times out: fail over 1 s later
    assert results(pair.events) == [Delivered(ticket, 1)]
    assert FailedOver(0, 1, "receiver 0: no answer within 10 s") in pair.events
    assert [f.sequence for f in backup.got] == [1]  # same sequence on every try
    assert sum(isinstance(e, Connect) for e in pair.events) == 3


def test_polls_bring_traffic_back_to_the_primary() -> None:
    primary, backup = plain(), plain()
    primary.up = False
    pair = Pair([primary, backup], attempts=1, poll_interval=60.0)
    pair.advance(1)  # the first poll fails over to the backup (retry_delay 1 s)
    assert (pair.tx.index, [f.token for f in backup.got]) == (1, [Token.NULL])
    pair.submit()
    assert len(backup.got) == 2  # messages stay on the backup
    primary.up = True
    pair.advance(60)
    assert pair.tx.index == 0
    assert [f.token for f in primary.got] == [Token.NULL]
    pair.submit()
    assert [f.token for f in primary.got] == [Token.NULL, Token.SIA_DCS]


def test_every_receiver_down_fails_the_message_and_loses_the_link() -> None:
    primary, backup = plain(), plain()
    primary.up = backup.up = False
    pair = Pair([primary, backup], attempts=2, retry_delay=1.0)
    ticket = pair.submit()
    pair.advance(5)
    [lost, failed] = results(pair.events)
    assert isinstance(failed, Failed) and isinstance(lost, LinkLost)
    assert failed.ticket == ticket
    assert isinstance(failed.error, ReceiverUnreachableError)
    assert str(failed.error) == (
        "no receiver acknowledged after 2 tries on each of 2; "
        "last: receiver 1: cannot connect: refused"
    )
    assert lost.reason == str(failed.error)
    assert not pair.tx.link_up
    assert pair.tx.index == 0  # the next message starts with the primary again


def test_link_restored_by_the_next_poll() -> None:
    peer = plain()
    peer.up = False
    pair = Pair([peer], poll_interval=30.0, attempts=1)
    pair.advance(0)
    assert isinstance(results(pair.events)[-1], LinkLost)
    peer.up = True
    pair.advance(30)
    assert results(pair.events)[-1] == LinkRestored(0)
    assert pair.tx.link_up


def test_link_lost_is_reported_once() -> None:
    peer = plain()
    peer.up = False
    pair = Pair([peer], poll_interval=30.0, attempts=1)
    pair.advance(100)
    assert sum(isinstance(e, LinkLost) for e in pair.events) == 1


def test_nak_for_skewed_clock_corrects_offset_and_resends() -> None:
    peer = plain()
    peer.skew = timedelta(seconds=120)  # the receiver's clock is 2 min ahead
    pair = Pair([peer])
    ticket = pair.submit()
    assert results(pair.events) == [Delivered(ticket, 0)]
    assert pair.tx.clock_offset == timedelta(seconds=120)
    assert [f.timestamp for f in peer.got] == [START + timedelta(seconds=120)]
    assert peer.receiver.rejected == {"TimestampWindowError": 1}


def test_endless_naks_count_as_a_failed_try() -> None:
    peer = plain()
    peer.answer = Frame(Token.NAK, 0, "0", "0", timestamp=START).serialize()
    pair = Pair([peer], attempts=1, max_naks=2)
    ticket = pair.submit()
    [_, failed] = results(pair.events)
    assert isinstance(failed, Failed) and failed.ticket == ticket
    assert "receiver answered NAK 3 times" in str(failed.error)


def test_duh_rejects_the_message_permanently() -> None:
    peer = plain()
    peer.answer = Frame(Token.DUH, 1, "1", "1", "1234").serialize()
    pair = Pair([peer])
    ticket = pair.submit()
    [failed] = results(pair.events)
    assert isinstance(failed, Failed) and failed.ticket == ticket
    assert isinstance(failed.error, MessageRejectedError)
    assert failed.error.permanent
    assert str(failed.error) == (
        "receiver 0 answered DUH to SIA-DCS '#1234|Nri1/PA001': it cannot process this message"
    )
    assert pair.tx.link_up


def test_ack_for_another_sequence_is_ignored() -> None:
    peer = plain()
    peer.answer = Frame(Token.ACK, 77, "1", "1", "1234").serialize()
    pair = Pair([peer], attempts=1, answer_timeout=5.0)
    pair.submit()
    assert (
        AnswerIgnored("ACK for sequence 0077 account 1234, awaiting 0001 account 1234")
        in pair.events
    )
    pair.advance(5)
    assert isinstance(results(pair.events)[-1], Failed)


def test_garbage_answer_fails_the_try_at_once() -> None:
    peer = plain()
    peer.answer = b"\n\r"  # what pysiaalarm sends for a bad CRC
    pair = Pair([peer], attempts=1)
    pair.submit()
    [_, failed] = results(pair.events)
    assert isinstance(failed, Failed)
    assert "invalid answer b'\\n\\r': Frame is shorter than 10 bytes." in str(failed.error)


def test_connect_timeout() -> None:
    pair = Pair([plain()], attempts=1, connect_timeout=3.0)
    pair.tx.submit(PANIC, pair.now())
    assert pair.tx.next_event() == Connect(0)  # the adapter never reports back
    pair.advance(3)
    assert "cannot connect: no connection within 3 s" in str(results(pair.events)[0])


def test_connection_lost_while_awaiting_retries() -> None:
    peer = plain()
    peer.silent = True
    pair = Pair([peer], attempts=2, retry_delay=0.5)
    pair.submit()
    pair.tx.connection_lost("reset by peer", pair.now())
    pair.run()
    peer.silent = False
    pair.advance(0.5)
    assert isinstance(results(pair.events)[-1], Delivered)


def test_sequence_wraps_from_9999_to_1() -> None:
    pair = Pair([plain()])
    pair.tx._sequence = 9998
    pair.submit()
    pair.submit()
    pair.submit()
    assert [f.sequence for f in pair.peers[0].got] == [9999, 1, 2]


def test_one_frame_in_flight_and_fifo_order() -> None:
    peer = plain()
    peer.silent = True
    pair = Pair([peer], answer_timeout=10.0)
    first = pair.tx.submit(Message(Token.SIA_DCS, "1234", "#1234|Nri1/PA001"), pair.now())
    second = pair.tx.submit(Message(Token.SIA_DCS, "1234", "#1234|Nri1/PR001"), pair.now())
    pair.run()
    assert sum(isinstance(e, Transmit) for e in pair.events) == 1
    assert pair.tx.pending == 2
    peer.silent = False
    pair.advance(11)
    assert results(pair.events) == [Delivered(first, 0), Delivered(second, 0)]
    assert [f.data[-5:] for f in peer.got] == ["PA001", "PR001"]


def test_cancel_drops_a_queued_message_only() -> None:
    peer = plain()
    peer.silent = True
    pair = Pair([peer])
    first = pair.tx.submit(PANIC, pair.now())
    second = pair.tx.submit(PANIC, pair.now())
    pair.run()
    assert pair.tx.cancel(second)
    assert not pair.tx.cancel(first)  # already in flight
    assert pair.tx.pending == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"endpoints": ()}, "At least one receiver endpoint is required."),
        ({"attempts": 0}, "attempts must be at least 1, got 0."),
        ({"answer_timeout": 0}, "answer_timeout must be > 0, got 0."),
        ({"retry_delay": -1}, "retry_delay must be >= 0, got -1."),
        ({"poll_interval": 0}, "poll_interval must be > 0, got 0."),
    ],
)
def test_settings_are_checked(options: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"endpoints": (Endpoint(),), "account": "1234"}
    fields.update(options)
    with pytest.raises(ValueError) as info:
        Settings(**fields)  # type: ignore[arg-type]
    assert str(info.value) == message


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("submit"), st.integers(0, 1)),
            st.tuples(st.just("up"), st.integers(0, 1)),
            st.tuples(st.just("silent"), st.integers(0, 1)),
            st.tuples(st.just("advance"), st.integers(0, 30)),
        ),
        max_size=40,
    )
)
def test_every_message_ends_exactly_once_in_order(steps: list[tuple[str, int]]) -> None:
    peers = [plain(), plain()]
    pair = Pair(peers, attempts=2, answer_timeout=5.0, retry_delay=1.0, poll_interval=20.0)
    tickets: list[int] = []
    for action, value in steps:
        if action == "submit":
            tickets.append(pair.submit())
        elif action == "up":
            peers[value].up = not peers[value].up
        elif action == "silent":
            peers[value].silent = not peers[value].silent
        else:
            pair.advance(value)
    for peer in peers:
        peer.up, peer.silent = True, False
    pair.advance(1000)
    ended = [e.ticket for e in pair.events if isinstance(e, Delivered | Failed)]
    assert ended == tickets
    assert pair.tx.pending == 0
    assert pair.tx.link_up
    flips = [e for e in pair.events if isinstance(e, LinkLost | LinkRestored)]
    assert all(type(a) is not type(b) for a, b in itertools.pairwise(flips))


@given(st.binary(max_size=300))
def test_any_answer_bytes_are_survived(data: bytes) -> None:
    peer = plain()
    peer.answer = data
    pair = Pair([peer], attempts=1, answer_timeout=5.0)
    ticket = pair.submit()
    pair.advance(5)
    assert [e.ticket for e in pair.events if isinstance(e, Delivered | Failed)] == [ticket]


def test_encrypted_nak_sets_the_clock_offset() -> None:
    peer = encrypted()
    peer.skew = timedelta(seconds=75)
    receiver_time = START + timedelta(seconds=75)
    nak = Frame(Token.NAK, 0, "0", "0", timestamp=receiver_time, encrypted=True)
    peer.answer = nak.serialize(KEY_128)
    pair = Pair([peer], attempts=1, max_naks=1)
    pair.submit()
    assert pair.tx.clock_offset == timedelta(seconds=75)
    assert [f.timestamp for f in peer.got] == [receiver_time]  # the first was out of window
