"""``alarm-gateway phone raise|wait``: a lone-worker phone on the command line.

``raise`` does what a phone does when its wearer falls: POST the alarm, then call
the gateway with the returned ``X-Alarm-Id`` and let it hear the wearer. ``wait``
is the phone waiting for the monitoring centre's callback: it answers only calls
that ask for auto-answer and refuses the others with 486 Busy Here.

Exit codes: 0 done, 1 refused or failed (HTTP or SIP), 2 bad arguments or files.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from gateway.alarm.types import AlarmType
from gateway.phone.api import Position, RaisedAlarm, alarm_body, raise_alarm
from gateway.phone.audio import Clip, prepare_wav, synthesize
from gateway.phone.errors import CallFailed, PhoneError, UsageError
from gateway.tts import VOICES

if TYPE_CHECKING:  # pjsua2 loads with the phone only, never for the other commands
    from gateway.phone.softphone import PhoneConfig, Report

ANSWER_TIMEOUT = 10.0
"""Seconds between answering a callback and its audio flowing."""
_SIP_URI = re.compile(r"^sips?:(?:[^@;>\s]+@)?(\[[^\]]+\]|[^:;>\s]+)(?::(\d+))?(?:;.*)?$")


def sip_address(uri: str) -> tuple[str, int | None]:
    """Host and port (None if absent) of a SIP URI such as sip:agent42@127.0.0.1:5090."""
    match = _SIP_URI.match(uri)
    if match is None:
        raise UsageError(f"not a SIP URI (expected sip:user@host[:port]): {uri!r}")
    port = int(match[2]) if match[2] else None
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"port out of range in {uri!r}")
    return match[1], port


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``raise`` and ``wait`` subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="phone_command", required=True)
    shout = sub.add_parser("raise", help="raise an alarm over HTTP, then call the gateway")
    shout.add_argument("--url", required=True, help="gateway base URL, e.g. http://127.0.0.1:8080")
    shout.add_argument("--token", required=True, help="the device token from 'device add'")
    shout.add_argument("--type", default="sos", choices=[t.value for t in AlarmType])
    shout.add_argument("--lat", type=float)
    shout.add_argument("--lon", type=float)
    shout.add_argument("--accuracy", type=float, help="horizontal accuracy in metres")
    shout.add_argument("--battery", type=int, help="battery level, percent")
    shout.add_argument(
        "--sip-uri", help="the phone's SIP identity (default sip:phone@BIND), sent as From"
    )
    shout.add_argument("--sip-port", type=int, default=0, help="local SIP port (default: any)")
    shout.add_argument("--hold", type=float, default=0.0, help="seconds on the line after audio")
    shout.add_argument("--ring-timeout", type=float, default=30.0)
    shout.add_argument("--attempts", type=int, default=5, help="HTTP attempts on network errors")
    shout.add_argument("--no-call", action="store_true", help="raise the alarm only")
    wait = sub.add_parser("wait", help="wait for a callback and auto-answer it")
    wait.add_argument(
        "--sip-uri",
        required=True,
        help="identity and port to listen on, e.g. sip:a42@127.0.0.1:5090",
    )
    wait.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the call")
    wait.add_argument("--hold", type=float, default=5.0, help="seconds on the line after audio")
    wait.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="HOST",
        help="obey auto-answer only from this address (repeatable; default: any)",
    )
    for command in (shout, wait):
        audio = command.add_mutually_exclusive_group()
        audio.add_argument("--wav", type=Path, help="WAV file played once the call is answered")
        audio.add_argument("--say", help="text spoken with espeak-ng once the call is answered")
        command.add_argument(
            "--language", choices=sorted(VOICES), help="of --say (default: guessed from the words)"
        )
        command.add_argument(
            "--record", type=Path, help="WAV file for what the far end says (16 kHz mono)"
        )
        command.add_argument("--bind", default="127.0.0.1", help="address for SIP and RTP")
        command.add_argument(
            "--rtp-port", type=int, help="first RTP port (default: random in 20000-30000)"
        )
        command.add_argument("--rtp-port-range", type=int, default=20)
        command.add_argument(
            "--codecs", default="G722/16000,PCMA/8000,PCMU/8000", help="offered, best first"
        )


@contextmanager
def _stdout_kept_from_pjsip() -> Iterator[TextIO]:
    """Our stdout, with file descriptor 1 taken away from pjsip meanwhile.

    pjsip writes its console log (and a banner, before any setting applies) to
    descriptor 1 from C: it goes to stderr when ``GATEWAY_PJSIP_LOG`` asks for a
    log level, to /dev/null otherwise, never into the progress lines scripts read.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    sink = os.dup(2) if os.environ.get("GATEWAY_PJSIP_LOG") else os.open(os.devnull, os.O_WRONLY)
    os.dup2(sink, 1)
    os.close(sink)
    try:
        with os.fdopen(os.dup(saved), "w", buffering=1) as out:
            yield out
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def main(args: argparse.Namespace) -> int:
    """Run ``alarm-gateway phone ...``; returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    command = _raise if args.phone_command == "raise" else _wait
    try:
        with (
            tempfile.TemporaryDirectory(prefix="alarm-phone-") as folder,
            _stdout_kept_from_pjsip() as out,
        ):
            report = functools.partial(print, file=out, flush=True)
            return asyncio.run(command(args, Path(folder), report))
    except PhoneError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


async def _clip(args: argparse.Namespace, folder: Path) -> Clip | None:
    if args.wav is not None:
        return prepare_wav(args.wav, folder)
    if args.say is not None:
        return await synthesize(args.say, args.language, folder)
    return None


def _phone_config(
    args: argparse.Namespace, identity: str, sip_port: int, trusted: tuple[str, ...] = ()
) -> PhoneConfig:
    if args.record is not None and not args.record.parent.is_dir():
        raise UsageError(f"--record: no directory {args.record.parent}")
    if args.rtp_port_range < 2:
        raise UsageError(f"--rtp-port-range must be at least 2, got {args.rtp_port_range}")
    rtp = args.rtp_port if args.rtp_port is not None else random.randrange(20000, 30000, 2)
    codecs = tuple(c.strip() for c in args.codecs.split(",") if c.strip())
    from gateway.phone.softphone import PhoneConfig

    return PhoneConfig(
        identity, args.bind, sip_port, rtp, args.rtp_port_range, codecs, trusted, args.record
    )


async def _raise(args: argparse.Namespace, folder: Path, report: Report) -> int:
    if (args.lat is None) != (args.lon is None):
        raise UsageError("--lat and --lon go together")
    if args.accuracy is not None and args.lat is None:
        raise UsageError("--accuracy needs --lat and --lon")
    if not args.url.startswith(("http://", "https://")):
        raise UsageError(f"--url must start with http:// or https://, got {args.url!r}")
    identity = args.sip_uri or f"sip:phone@{args.bind}"
    sip_address(identity)
    position = Position(args.lat, args.lon, args.accuracy) if args.lat is not None else None
    body = alarm_body(args.type, datetime.now(UTC), position, args.battery)
    if args.no_call:
        await _post(args, body, report)
        return 0
    config = _phone_config(args, identity, args.sip_port)
    clip = await _clip(args, folder)
    from gateway.phone.softphone import open_phone

    # the phone starts first: a local fault (port, codec) shows before any alarm exists,
    # and the call goes out the moment the gateway answers
    async with open_phone(config, clip, report) as phone:
        alarm = await _post(args, body, report)
        report(f"calling {alarm.sip_uri} from {identity}")
        started = time.monotonic()
        call = await phone.dial(alarm.sip_uri, alarm.headers, args.ring_timeout)
        report(f"call answered ({await call.connected}) in {_ms(started)}")
        ours = await phone.talk(call, args.hold)
        report("hung up" if ours else "the gateway hung up")
    return 0


async def _post(args: argparse.Namespace, body: dict[str, Any], report: Report) -> RaisedAlarm:
    started = time.monotonic()
    alarm = await raise_alarm(args.url, args.token, body, attempts=max(1, args.attempts))
    outcome = "already raised" if alarm.replayed else "raised"
    report(f"alarm {alarm.id} {outcome} in {_ms(started)}")
    return alarm


def _ms(since: float) -> str:
    return f"{(time.monotonic() - since) * 1000:.0f} ms"


async def _wait(args: argparse.Namespace, folder: Path, report: Report) -> int:
    _, port = sip_address(args.sip_uri)
    config = _phone_config(args, args.sip_uri, port or 5060, tuple(args.trust))
    clip = await _clip(args, folder)
    from gateway.phone.softphone import open_phone

    async with open_phone(config, clip, report) as phone:
        report(f"waiting for a call on {args.bind}:{phone.sip_port} as {args.sip_uri}")
        try:
            call, _ = await asyncio.wait_for(phone.answered.get(), args.timeout)
        except TimeoutError:
            raise PhoneError(f"no auto-answer call within {args.timeout:g} s") from None
        if not await call.settle(ANSWER_TIMEOUT):
            await phone.hang_up(call)
            raise CallFailed(f"answered call had no audio within {ANSWER_TIMEOUT:g} s", 0)
        report(f"call answered ({call.connected.result()})")
        ours = await phone.talk(call, args.hold)
        report("hung up" if ours else "the caller hung up")
    return 0
