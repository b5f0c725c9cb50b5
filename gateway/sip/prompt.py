"""A spoken prompt over SIP: ring a person, play a message, wait for one keypad key.

Used to reach managers about an alarm. The message is paced out in real time
(the worker keeps at most 500 ms of injected audio and drops older frames), then
repeated after a pause until the key comes, the person hangs up, or time runs out.
The call is always hung up at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from gateway.sip.errors import UnknownCallError
from gateway.sip.events import CallDtmf, CallEvent, CallFinished
from gateway.sip.messages import DTMF_DIGITS
from gateway.sip.supervisor import SipSupervisor

CHUNK = 0.1
"""Seconds of audio handed to the worker at a time."""
LEAD = 0.2
"""Seconds the audio sent runs ahead of the clock: covers IPC jitter, well under 500 ms."""


@dataclass(frozen=True, slots=True)
class PromptResult:
    """How a prompt call ended."""

    acknowledged: bool
    outcome: str
    """One sentence for logs and timelines, e.g. ``"pressed 1"``, ``"hung up (200 BYE)"``."""
    digits: str = ""
    """Every key pressed, in order."""


@dataclass(slots=True)
class KeyJudge:
    """What each key press means (sans-I/O): the right key acknowledges; another is a
    fumble while the message is still being repeated, and a refusal after it."""

    key: str
    digits: str = ""
    """Every key pressed so far."""

    def press(self, digit: str, message_done: bool) -> PromptResult | None:
        """The prompt's result if this press ends it, else None (keep waiting)."""
        self.digits += digit
        if digit == self.key:
            return PromptResult(True, f"pressed {self.key}", self.digits)
        if message_done:
            return PromptResult(False, f"pressed {digit}, not {self.key}", self.digits)
        return None


async def prompt_for_key(
    supervisor: SipSupervisor,
    uri: str,
    speech: tuple[bytes, int],
    key: str,
    *,
    alarm_id: str | None = None,
    ring_timeout: float = 30.0,
    repeats: int = 3,
    pause: float = 1.5,
    key_window: float = 60.0,
) -> PromptResult:
    """Call ``uri``, say ``speech`` (s16le PCM, rate) up to ``repeats`` times, wait for ``key``.

    ``key_window`` counts from the answer. Another key pressed while the message is still
    being repeated is ignored (a fumble); once every repeat is spoken it ends the call
    unacknowledged. Raises :class:`~gateway.sip.errors.CallFailedError` or
    :class:`~gateway.sip.errors.NoCapacityError` if the call is not answered.
    """
    if len(key) != 1 or key not in DTMF_DIGITS:
        raise ValueError(f"key must be one of {DTMF_DIGITS}, got {key!r}")
    if repeats < 1 or key_window <= 0:
        raise ValueError(f"need repeats >= 1 and key_window > 0, got {repeats} and {key_window}")
    events: asyncio.Queue[CallEvent] = asyncio.Queue()
    ref = await supervisor.call(
        uri, events.put_nowait, alarm_id=alarm_id, ring_timeout=ring_timeout
    )
    speaker = asyncio.create_task(_speak(supervisor, ref.call_id, speech, repeats, pause))
    try:
        return await _await_key(events, key, speaker, key_window)
    finally:
        speaker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await speaker
        with contextlib.suppress(UnknownCallError):  # already gone: the far end hung up
            await supervisor.hangup(ref.call_id, 200)


async def _await_key(
    events: asyncio.Queue[CallEvent], key: str, speaker: asyncio.Task[None], window: float
) -> PromptResult:
    judge = KeyJudge(key)
    try:
        async with asyncio.timeout(window):
            while True:
                event = await events.get()
                if isinstance(event, CallFinished):
                    reason = f"{event.code} {event.reason}".strip()
                    return PromptResult(False, f"hung up ({reason})", judge.digits)
                if isinstance(event, CallDtmf):
                    result = judge.press(event.digit, message_done=speaker.done())
                    if result is not None:
                        return result
    except TimeoutError:
        return PromptResult(False, f"no key pressed within {window:.0f} s", judge.digits)


async def _speak(
    supervisor: SipSupervisor, call_id: str, speech: tuple[bytes, int], repeats: int, pause: float
) -> None:
    """Play the message ``repeats`` times, ``pause`` s apart, paced at real time."""
    pcm, rate = speech
    chunk = int(CHUNK * rate) * 2
    loop = asyncio.get_running_loop()
    try:
        for repeat in range(repeats):
            if repeat:
                await asyncio.sleep(pause)
            start = loop.time()
            for index, offset in enumerate(range(0, len(pcm), chunk)):
                await asyncio.sleep(max(0.0, start + index * CHUNK - LEAD - loop.time()))
                supervisor.send_audio(call_id, pcm[offset : offset + chunk], rate)
            await asyncio.sleep(max(0.0, start + len(pcm) / 2 / rate - loop.time()))
    except UnknownCallError:
        return  # the call ended; the waiter sees CallFinished
