"""``alarm-gateway phone`` as a subprocess against a real gateway app with real SIP workers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.alarm.types import AlarmType
from gateway.api.keys import STORE, VOICE
from gateway.app import make_app
from gateway.auth import token_hash
from gateway.cli import main as cli_main
from gateway.config.schema import Settings, VoiceSection
from gateway.media.pcm import Samples, best_lag, to_pcm, to_samples
from gateway.phone.cli import sip_address
from gateway.phone.errors import UsageError
from gateway.sip.config import SipConfig
from gateway.store.records import NewAlarm
from tests.conftest import AiohttpClient, Client
from tests.sip.conftest import (
    TAP_RATE,
    SipProbe,
    Speech,
    free_udp_port,
    probe,
    rtp_base,
    speech,
    stream_audio,
)

__all__ = ["probe", "speech"]  # fixtures used by name below
TOKEN = "phone-token"
IDENTITY = "sip:agent42@127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Done:
    code: int
    out: str
    err: str


Phone = Callable[..., Awaitable[asyncio.subprocess.Process]]
AiohttpServer = Callable[[web.Application], Awaitable[TestServer]]


@pytest.fixture
async def phone() -> AsyncIterator[Phone]:
    """Start ``python -m gateway.cli phone ...``; every process is killed at the end."""
    started: list[asyncio.subprocess.Process] = []

    async def start(*args: str) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli", "phone", *args, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        started.append(process)
        return process

    yield start
    for process in started:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def finish(process: asyncio.subprocess.Process, within: float = 60.0) -> Done:
    async with asyncio.timeout(within):
        out, err = await process.communicate()
    assert process.returncode is not None
    return Done(process.returncode, out.decode(), err.decode())


@pytest.fixture
async def client(settings: Settings, aiohttp_client: AiohttpClient) -> Client:
    """A gateway with one real SIP worker on a known port (the API returns its URI)."""
    port = free_udp_port()
    voiced = settings.model_copy(
        update={
            "voice": VoiceSection(enabled=True, sip_uri=f"sip:alarm@127.0.0.1:{port}"),
            "sip": SipConfig(
                workers=1,
                base_port=port,
                rtp_base_port=rtp_base(),
                rtp_ports_per_worker=40,
                tap_rate=TAP_RATE,
                media_timeout=1.0,
            ),
        }
    )
    client = await aiohttp_client(make_app(voiced))
    await client.app[STORE].add_device(
        "agent42", token_hash(TOKEN), datetime.now(UTC), sip_uri=IDENTITY
    )
    return client


def write_wav(speech: Speech, path: Path) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(TAP_RATE)
        wav.writeframes(to_pcm(speech.reference))
    return path


def played_share(reference: Samples, heard: bytearray, window: float = 0.25) -> float:
    """Share of the clip's voiced 250 ms windows found in what the gateway heard, with a
    normalised correlation of at least 0.9.

    The clip's overall delay is found once, on the whole clip; each window is then
    searched within 100 ms of it (a jitter buffer may add or drop a frame). Every
    position is normalised by the heard audio's energy there: raw cross-correlation
    would prefer a louder passage to the matching one.
    """
    received = to_samples(bytes(heard))
    delay, _ = best_lag(reference, received, 2 * TAP_RATE)
    size, slack = int(window * TAP_RATE), TAP_RATE // 10
    scores = []
    for start in range(0, len(reference) - size + 1, size):
        chunk = reference[start : start + size]
        if np.sqrt(np.mean(chunk**2)) <= 0.01:
            continue
        segment = received[max(0, start + delay - slack) : start + delay + size + slack]
        if len(segment) < size:
            scores.append(0.0)
            continue
        dots = np.correlate(segment, chunk, mode="valid")
        energy = np.convolve(segment**2, np.ones(size), mode="valid") * np.dot(chunk, chunk)
        scores.append(float(np.max(dots / np.sqrt(energy + 1e-12))))
    assert scores, "the clip has no voiced window"
    return sum(score >= 0.9 for score in scores) / len(scores)


def listen(app: web.Application) -> dict[str, bytearray]:
    """Caller audio the gateway hears, per alarm."""
    heard: dict[str, bytearray] = {}
    app[VOICE].add_audio_listener(
        lambda alarm_id, pcm, rate: heard.setdefault(alarm_id, bytearray()).extend(pcm)
    )
    return heard


async def timeline(app: web.Application, alarm_id: str, until: str) -> list[str]:
    """The alarm's timeline kinds, once ``until`` is among them."""
    kinds: list[str] = []
    async with asyncio.timeout(10):
        while until not in kinds:
            await asyncio.sleep(0.05)
            alarm = await app[STORE].get_alarm(alarm_id)
            assert alarm is not None
            kinds = [e.kind for e in alarm.timeline]
    return kinds


@pytest.mark.integration
async def test_raise_creates_the_alarm_and_its_call_carries_the_wav(
    client: Client, phone: Phone, speech: Speech, tmp_path: Path
) -> None:
    heard = listen(client.app)
    url = str(client.make_url("")).rstrip("/")
    wav = write_wav(speech, tmp_path / "help.wav")
    args = ["raise", "--url", url, "--token", TOKEN, "--type", "fall", "--sip-uri", IDENTITY,
            "--lat", "48.85", "--lon", "2.35", "--accuracy", "12", "--battery", "64",
            "--wav", str(wav), "--hold", "1", "--record", str(tmp_path / "heard.wav")]  # fmt: skip
    done = await finish(await phone(*args))
    assert done.code == 0, done.out + done.err
    [alarm] = await client.app[STORE].list_alarms()
    assert f"alarm {alarm.id} raised in " in done.out
    assert "call answered" in done.out and "hung up" in done.out
    assert alarm.alarm_type is AlarmType.FALL and alarm.battery_pct == 64
    assert alarm.position is not None and alarm.position.lat == 48.85
    kinds = await timeline(client.app, alarm.id, "voice_lost")
    assert kinds.index("voice_connected") < kinds.index("voice_lost")
    share = played_share(speech.reference, heard[alarm.id])
    assert share >= 0.8, f"only {share:.0%} of the phone's audio reached the gateway"
    with wave.open(str(tmp_path / "heard.wav"), "rb") as recorded:  # the gateway said nothing
        assert recorded.getnframes() >= speech.seconds * recorded.getframerate()


@pytest.mark.integration
async def test_wait_auto_answers_the_callback_reports_its_headers_and_talks_both_ways(
    client: Client, phone: Phone, speech: Speech, tmp_path: Path
) -> None:
    app = client.app
    heard = listen(app)
    now = datetime.now(UTC)
    alarm, _ = await app[STORE].raise_alarm(
        NewAlarm("agent42", AlarmType.SOS, now, None, None, "http"), now
    )
    uri = f"sip:agent42@127.0.0.1:{free_udp_port()}"
    wav = write_wav(speech, tmp_path / "answer.wav")
    record = tmp_path / "operator.wav"
    waiting = await phone("wait", "--sip-uri", uri, "--wav", str(wav), "--hold", "0.5",
                          "--timeout", "30", "--record", str(record))  # fmt: skip
    assert waiting.stdout is not None
    async with asyncio.timeout(20):
        assert (await waiting.stdout.readline()).startswith(b"waiting for a call on ")
    supervisor = app[VOICE].supervisor
    assert supervisor is not None
    ref = await supervisor.callback(alarm.id, uri, attempts=1)
    await stream_audio(supervisor, ref.call_id, speech.reference)  # as an operator talks
    done = await finish(waiting)
    assert done.code == 0, done.err
    assert "Answer-Mode: Auto" in done.out
    assert "Call-Info: <sip:127.0.0.1>;answer-after=0" in done.out
    assert "info=alert-autoanswer" in done.out
    assert "call answered" in done.out
    share = played_share(speech.reference, heard[alarm.id])
    assert share >= 0.8, f"only {share:.0%} of the phone's audio reached the gateway"
    with wave.open(str(record), "rb") as wav_in:
        assert (wav_in.getnchannels(), wav_in.getsampwidth(), wav_in.getframerate()) == (
            1,
            2,
            16000,
        )
        recorded = bytearray(wav_in.readframes(wav_in.getnframes()))
    share = played_share(speech.reference, recorded)
    assert share >= 0.8, f"only {share:.0%} of the gateway's audio reached the phone"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("options", "extra", "answer", "why"),
    [
        ((), "", "486 Busy Here", "no auto-answer header"),
        (("--trust", "127.0.0.2"), "Answer-Mode: Auto\r\n", "403 Forbidden",
         "127.0.0.1 is not a trusted caller"),
    ],
)  # fmt: skip
async def test_wait_refuses_calls_it_must_not_answer(
    phone: Phone, probe: SipProbe, options: tuple[str, ...], extra: str, answer: str, why: str
) -> None:
    port = free_udp_port()
    uri = f"sip:agent42@127.0.0.1:{port}"
    waiting = await phone("wait", "--sip-uri", uri, "--timeout", "3", *options)
    assert waiting.stdout is not None
    async with asyncio.timeout(20):
        await waiting.stdout.readline()
    assert f"SIP/2.0 {answer}" in await probe.exchange(port, probe.invite(port, extra=extra))
    done = await finish(waiting)
    assert done.code == 1
    assert (
        f"refused call from <sip:probe@127.0.0.1:{probe.port}>;tag=p1 with {answer}: {why}\n"
        in done.out
    )
    assert done.err == "error: no auto-answer call within 3 s\n"


@pytest.mark.integration
async def test_raise_shows_the_sip_refusal(phone: Phone, aiohttp_server: AiohttpServer) -> None:
    """A gateway that returns the URI of a phone (which wants auto-answer) gets a 486."""
    port = free_udp_port()
    target = f"sip:agent42@127.0.0.1:{port}"
    waiting = await phone("wait", "--sip-uri", target, "--timeout", "5")
    assert waiting.stdout is not None
    async with asyncio.timeout(20):
        await waiting.stdout.readline()

    async def created(request: web.Request) -> web.Response:
        voice = {"sip_uri": target, "headers": {"X-Alarm-Id": "01A"}}
        return web.json_response({"id": "01A", "voice": voice}, status=201)

    api = web.Application()
    api.router.add_post("/api/v1/alarms", created)
    server = await aiohttp_server(api)
    url = str(server.make_url("")).rstrip("/")
    done = await finish(await phone("raise", "--url", url, "--token", "t", "--say", "Help"))
    assert done.code == 1
    assert "alarm 01A raised in " in done.out
    assert done.err == f"error: call to {target} failed: 486 Busy Here\n"


@pytest.mark.integration
async def test_local_faults_show_before_any_alarm_is_raised(
    phone: Phone, aiohttp_server: AiohttpServer
) -> None:
    posts = 0

    async def created(request: web.Request) -> web.Response:
        nonlocal posts
        posts += 1
        return web.json_response({}, status=500)

    api = web.Application()
    api.router.add_post("/api/v1/alarms", created)
    url = str((await aiohttp_server(api)).make_url("")).rstrip("/")
    done = await finish(
        await phone("raise", "--url", url, "--token", "t", "--codecs", "opus/48000")
    )
    assert done.code == 2
    assert done.err.startswith("error: unknown codec 'opus/48000'; choose from ")
    assert "G722/16000" in done.err
    assert posts == 0


@pytest.mark.integration
async def test_raise_with_a_wrong_token_shows_the_apis_401_message(
    client: Client, phone: Phone
) -> None:
    url = str(client.make_url("")).rstrip("/")
    done = await finish(await phone("raise", "--url", url, "--token", "wrong"))
    assert done.code == 1
    assert done.err == "error: HTTP 401: device token is not valid (unknown or revoked)\n"
    assert await client.app[STORE].list_alarms() == []


@pytest.mark.parametrize(
    ("uri", "address"),
    [
        ("sip:agent42@127.0.0.1:5090", ("127.0.0.1", 5090)),
        ("sip:agent42@127.0.0.1", ("127.0.0.1", None)),
        ("sips:a@[::1]:5061;transport=tls", ("[::1]", 5061)),
    ],
)
def test_sip_address(uri: str, address: tuple[str, int | None]) -> None:
    assert sip_address(uri) == address


@pytest.mark.parametrize("uri", ["agent42@127.0.0.1", "sip:", "sip:a@h:99999", "http://x"])
def test_sip_address_refuses(uri: str) -> None:
    with pytest.raises(UsageError):
        sip_address(uri)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lat", "48.8"], "--lat and --lon go together"),
        (
            ["--url", "127.0.0.1:8080"],
            "--url must start with http:// or https://, got '127.0.0.1:8080'",
        ),
        (["--accuracy", "5"], "--accuracy needs --lat and --lon"),
        (["--sip-uri", "agent42"], "not a SIP URI (expected sip:user@host[:port]): 'agent42'"),
        (["--say", " "], "--say: nothing to say: the text is empty"),
        (["--record", "/nonexistent/dir/x.wav"], "--record: no directory /nonexistent/dir"),
        (["--rtp-port-range", "1"], "--rtp-port-range must be at least 2, got 1"),
    ],
)
def test_raise_refuses_bad_arguments_before_doing_anything(
    args: list[str], message: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """Checked before the SIP stack starts or the alarm is posted (the URL is unused)."""
    code = cli_main(["phone", "raise", "--url", "http://127.0.0.1:9", "--token", "t", *args])
    assert code == 2
    assert capfd.readouterr().err == f"error: {message}\n"


def test_bad_arguments_never_load_pjsua2() -> None:
    """Only a phone that will really run loads pjsua2 (never the other commands)."""
    code = (
        "import sys; from gateway.cli import main; "
        "main(['phone', 'raise', '--url', 'http://x', '--token', 't', '--rtp-port-range', '1']); "
        "sys.exit('pjsua2' in sys.modules)"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True).returncode == 0
    )
