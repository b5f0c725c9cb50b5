"""Real peers for the voice channel tests: supervisors, sipp, test speech.

Everything binds 127.0.0.1 on ports the OS reports free, and every process a
fixture starts is stopped by that fixture.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pytest

from gateway.media.pcm import Samples, best_lag, frame_bytes, resample, to_pcm, to_samples
from gateway.sip.config import SipConfig
from gateway.sip.events import Answer, CallConnected, CallDecision, CallEvent, CallFinished
from gateway.sip.messages import IncomingCall
from gateway.sip.supervisor import SipSupervisor

SCENARIOS = Path(__file__).parent / "scenarios"
TAP_RATE = 16000


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rtp_base() -> int:
    """An even port in a range few programs use; pjsua2 skips ports already taken."""
    return random.randrange(20000, 30000, 2)


@dataclass
class FakeHandler:
    """The main process's side, minus the store: answers by X-Alarm-Id, records all."""

    decide: Callable[[IncomingCall], CallDecision] | None = None
    incoming: list[IncomingCall] = field(default_factory=list)
    events: list[CallEvent] = field(default_factory=list)
    audio: dict[str, bytearray] = field(default_factory=dict)
    _new_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    async def on_incoming(self, call: IncomingCall) -> CallDecision:
        self.incoming.append(call)
        if self.decide is not None:
            return self.decide(call)
        return Answer(call.alarm_id or f"new-{next(self._new_ids)}")

    def on_call_event(self, event: CallEvent) -> None:
        self.events.append(event)

    def on_audio(self, call_id: str, pcm: bytes, rate: int) -> None:
        assert rate == TAP_RATE
        self.audio.setdefault(call_id, bytearray()).extend(pcm)

    def of_type(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def connected(self) -> list[str]:
        return [e.call.call_id for e in self.of_type(CallConnected)]

    def finished(self) -> list[str]:
        return [e.call.call_id for e in self.of_type(CallFinished)]

    async def wait_for(self, condition: Callable[[], object], within: float = 10.0) -> None:
        """Poll ``condition`` until true; fail the test with the events seen if it never is."""
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"condition not met in {within} s; events: {self.events}")
            await asyncio.sleep(0.02)


StartSupervisor = Callable[..., Awaitable[tuple[SipSupervisor, FakeHandler]]]


@pytest.fixture
async def start_supervisor() -> AsyncIterator[StartSupervisor]:
    """Start a supervisor with OS-chosen SIP ports and a :class:`FakeHandler`."""
    running: list[SipSupervisor] = []

    async def start(
        handler: FakeHandler | None = None, **options: Any
    ) -> tuple[SipSupervisor, FakeHandler]:
        handler = handler or FakeHandler()
        options.setdefault("workers", 1)
        options.setdefault("rtp_ports_per_worker", 40)
        config = SipConfig(base_port=0, rtp_base_port=rtp_base(), tap_rate=TAP_RATE, **options)
        supervisor = SipSupervisor(config, handler)
        running.append(supervisor)
        await supervisor.start()
        return supervisor, handler

    yield start
    exit_codes = [await supervisor.stop() for supervisor in running]
    assert all(code == 0 for codes in exit_codes for code in codes.values()), exit_codes


@dataclass(frozen=True)
class Speech:
    """Test speech as G.711 for sipp, and the same audio decoded, at the tap's rate."""

    ulaw: Path
    alaw: Path
    reference: Samples
    seconds: float


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    for tool in ("espeak-ng", "sox", "sipp"):
        assert shutil.which(tool), f"{tool} is needed (Debian: espeak-ng, sox, sip-tester)"
    folder = tmp_path_factory.mktemp("speech")
    wav, ulaw, raw = folder / "speech.wav", folder / "speech.ul", folder / "speech.raw"
    alaw = folder / "speech.al"
    text = "Help, I have fallen in the warehouse and I cannot get up. Please send someone."
    subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, timeout=30)
    subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", "-t", "ul", str(ulaw)], check=True)
    subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", "-t", "al", str(alaw)], check=True)
    subprocess.run(
        ["sox", "-t", "ul", "-r", "8000", "-c", "1", str(ulaw), "-t", "raw", "-e", "signed",
         "-b", "16", str(raw)],
        check=True,
    )  # fmt: skip
    pcm8k = raw.read_bytes()
    return Speech(ulaw, alaw, to_samples(resample(pcm8k, 8000, TAP_RATE)), len(pcm8k) / 16000)


def aligned_correlation(
    reference: Samples, received: bytes | bytearray, segment: float = 0.5
) -> float:
    """Normalised correlation of the received audio with ``reference``, each 500 ms segment
    aligned on its own lag, weighted by energy.

    A jitter buffer that drops or repeats a frame on a loaded machine shifts what
    follows by 20 ms: one global lag would call that noise, per-segment lags do not.
    """
    samples = to_samples(bytes(received))
    size = int(segment * TAP_RATE)
    padded = np.concatenate((np.zeros(size), reference, np.zeros(size)))  # edges align too
    dot = energy_received = energy_reference = 0.0
    for start in range(0, len(samples) - size + 1, size):
        chunk = samples[start : start + size]
        lag, _ = best_lag(chunk, padded, len(padded) - size)
        matched = padded[lag : lag + size]
        chunk = chunk[: len(matched)]
        dot += float(np.dot(chunk, matched))
        energy_received += float(np.dot(chunk, chunk))
        energy_reference += float(np.dot(matched, matched))
    norm = np.sqrt(energy_received * energy_reference)
    return dot / norm if norm else 0.0


def matching_share(
    reference: Samples, received: bytes | bytearray, at_least: float = 0.9, window: float = 0.25
) -> float:
    """Share of the received audio's voiced 250 ms windows that, each aligned on its own,
    correlate with ``reference`` by ``at_least``.

    Jitter buffers that add or drop a frame under load spoil a window or two, not the
    rest; unrelated audio scores near 0.
    """
    samples = to_samples(bytes(received))
    size = int(window * TAP_RATE)
    scores = [
        best_lag(chunk, reference, len(reference))[1]
        for start in range(0, len(samples) - size + 1, size)
        if np.sqrt(np.mean((chunk := samples[start : start + size]) ** 2)) > 0.01
    ]
    assert scores, "no voiced audio received"
    return sum(score >= at_least for score in scores) / len(scores)


def rms(pcm: bytes | bytearray) -> float:
    samples = to_samples(bytes(pcm))
    return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0


@dataclass
class Sipp:
    process: asyncio.subprocess.Process
    messages: Path
    errors: Path

    async def wait(self, within: float = 60.0) -> int:
        async with asyncio.timeout(within):
            return await self.process.wait()

    def log(self) -> str:
        return self.messages.read_text(errors="replace") if self.messages.exists() else ""


class RunSipp(Protocol):
    def __call__(
        self,
        scenario: str,
        target: str,
        *,
        calls: int = 1,
        keys: dict[str, str] | None = None,
        fill: dict[str, str] | None = None,
        port: int | None = None,
        options: tuple[str, ...] = (),
    ) -> Awaitable[Sipp]: ...


@pytest.fixture
async def sipp(tmp_path: Path) -> AsyncIterator[RunSipp]:
    """Start sipp on a scenario from ``scenarios/``, ``@NAME@`` placeholders filled in."""
    started: list[Sipp] = []
    counter = itertools.count(1)

    async def run(
        scenario: str,
        target: str,
        *,
        calls: int = 1,
        keys: dict[str, str] | None = None,
        fill: dict[str, str] | None = None,
        port: int | None = None,
        options: tuple[str, ...] = (),
    ) -> Sipp:
        n = next(counter)
        text = (SCENARIOS / scenario).read_text()
        for name, value in (fill or {}).items():
            text = text.replace(f"@{name}@", value)
        path = tmp_path / f"{n}-{scenario}"
        path.write_text(text)
        messages, errors = tmp_path / f"{n}-messages.log", tmp_path / f"{n}-errors.log"
        args = [
            "-sf", str(path), "-m", str(calls), "-l", str(calls), "-r", "50",
            "-i", "127.0.0.1", "-p", str(port or free_udp_port()),
            "-mi", "127.0.0.1", "-mp", str(free_udp_port()),
            "-nostdin", "-timeout", "60s", "-timeout_error",
            "-trace_msg", "-message_file", str(messages),
            "-trace_err", "-error_file", str(errors),
        ]  # fmt: skip
        for key, value in (keys or {}).items():
            args += ["-key", key, value]
        args += options  # e.g. -rtp_echo
        if target:
            args.append(target)
        process = await asyncio.create_subprocess_exec(
            "sipp", *args, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL
        )
        started.append(Sipp(process, messages, errors))
        return started[-1]

    yield run
    for peer in started:
        if peer.process.returncode is None:
            peer.process.kill()
            await peer.process.wait()


async def stream_audio(
    supervisor: SipSupervisor, call_id: str, samples: Samples, rate: int = TAP_RATE
) -> None:
    """Play audio into a call in real time, 20 ms at a time (as a WebRTC operator would)."""
    pcm = to_pcm(samples)
    size = frame_bytes(rate)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index, offset in enumerate(range(0, len(pcm) - size + 1, size)):
        supervisor.send_audio(call_id, pcm[offset : offset + size], rate)
        await asyncio.sleep(max(0.0, start + (index + 1) * 0.02 - loop.time()))


class SipProbe:
    """A bare UDP socket speaking hand-written SIP, to send what no real phone would."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self._branches = itertools.count(1)

    def invite(
        self, target: int, *, codecs: str = "0 8", drop: tuple[str, ...] = (), extra: str = ""
    ) -> bytes:
        branch = next(self._branches)
        body = (
            "v=0\r\no=probe 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {free_udp_port()} RTP/AVP {codecs}\r\n"
        )
        headers = [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bKprobe{branch}"),
            ("From", f"<sip:probe@127.0.0.1:{self.port}>;tag=p{branch}"),
            ("To", f"<sip:gateway@127.0.0.1:{target}>"),
            ("Call-ID", f"probe-{branch}-{self.port}@127.0.0.1"),
            ("CSeq", "1 INVITE"),
            ("Contact", f"<sip:probe@127.0.0.1:{self.port}>"),
            ("Max-Forwards", "70"),
            ("Content-Type", "application/sdp"),
        ]
        lines = [f"{name}: {value}\r\n" for name, value in headers if name not in drop]
        return (
            f"INVITE sip:gateway@127.0.0.1:{target} SIP/2.0\r\n"
            + "".join(lines)
            + extra
            + f"Content-Length: {len(body)}\r\n\r\n{body}"
        ).encode()

    async def exchange(self, target: int, data: bytes, listen: float = 1.0) -> list[str]:
        """Send ``data``; return the first line of every packet received within ``listen`` s."""
        self.sock.sendto(data, ("127.0.0.1", target))
        return [p.split(b"\r\n", 1)[0].decode(errors="replace") for p in await self.collect(listen)]

    async def collect(self, listen: float) -> list[bytes]:
        """Every packet received (or already queued) within ``listen`` s."""
        loop = asyncio.get_running_loop()
        end = loop.time() + listen
        packets: list[bytes] = []
        while loop.time() < end:
            try:
                packets.append(self.sock.recv(65535))
            except BlockingIOError:
                await asyncio.sleep(0.01)
        return packets

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def probe() -> Iterator[SipProbe]:
    sip = SipProbe()
    yield sip
    sip.close()
