"""The pjsua2 SIP worker process: one endpoint, one SIP port, at most 4 calls.

Run only as a fresh process, never forked from one that loaded pjsua2::

    python -m gateway.sip.worker '<WorkerSettings JSON>'

It speaks :mod:`gateway.sip.messages` frames on stdin (commands) and stdout
(events and caller audio); file descriptor 1 is re-pointed at stderr at start so
pjsip's own console output can never corrupt the frame stream. It exits when its
stdin closes (the supervisor is gone), after hanging up every call.

Threads: SIP callbacks run on the asyncio thread, which pumps
``libHandleEvents``; only the tap ports' frame callbacks run on pjmedia's clock
thread and they hand over with ``call_soon_threadsafe``. Every pjsua2 callback
catches all exceptions: one escaping would abort the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import faulthandler
import gc
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pjsua2 as pj

from gateway.sip.bridge import TAP, LegMode, Link, link_changes, links
from gateway.sip.config import MAX_CALLS_PER_WORKER, WorkerSettings
from gateway.sip.errors import MessageError
from gateway.sip.mediawatch import Lost, MediaWatch
from gateway.sip.messages import (
    DTMF_DIGITS,
    AnswerCall,
    AnyMessage,
    AudioFrame,
    CallAnswered,
    CallEnded,
    CodecChanged,
    CommandFailed,
    DtmfReceived,
    Hangup,
    Headers,
    IncomingCall,
    MakeCall,
    MediaLost,
    MediaResumed,
    MessageDecoder,
    ModeApplied,
    Ping,
    Pong,
    RejectCall,
    SetMode,
    Shutdown,
    WorkerReady,
    encode,
)
from gateway.sip.pjglue import ForwardingAccount
from gateway.sip.sipmsg import offered_codecs, parse_headers, wideband_only

log = logging.getLogger("gateway.sip.worker")

PUMP_INTERVAL = 0.005
"""Seconds between ``libHandleEvents`` polls: bounds the added SIP latency."""
WATCH_INTERVAL = 0.25
RELEASE_DELAY = 0.1
"""Seconds between taking a port off the bridge and freeing it (five frames)."""
INJECT_BACKLOG = 25
"""Frames (500 ms) of main's audio queued per call before the oldest is dropped."""
INJECT_PREBUFFER = 3
"""Frames (60 ms) of main's audio gathered before playing, after a start or a gap: IPC
and event-loop jitter then never cut a word in two."""
OUT_BUFFER_LIMIT = 4 * 1024 * 1024
"""Bytes waiting on stdout beyond which caller audio is dropped (main is stalled)."""


def _vector_reader() -> Callable[[Any], bytes]:
    """The fastest correct way to copy a pjsua2 ``ByteVector`` (a frame's audio) to bytes.

    SWIG converts element by element: ~260 µs per 640-byte frame, half of a tapped
    call's CPU. Reading the ``std::vector``'s buffer takes ~1.5 µs. The direct path
    is checked against SWIG's at start and only used if they agree.
    """

    def direct(vector: Any) -> bytes:
        pointers = ctypes.cast(int(vector.this), ctypes.POINTER(ctypes.c_void_p))
        begin, end = pointers[0], pointers[1]
        return ctypes.string_at(begin, end - begin) if begin and end else b""

    sample = bytes(range(256)) * 3
    try:
        if direct(pj.ByteVector(sample)) == sample and direct(pj.ByteVector()) == b"":
            return direct
    except Exception:
        log.exception("direct frame reading unavailable")
    log.warning("copying frames through SWIG (slow: ~0.3 ms per frame)")
    return bytes


def _pj_error(exc: pj.Error) -> str:
    return f"{getattr(exc, 'title', '')}: {getattr(exc, 'reason', '')}".strip(": ")


def _op(code: int, reason: str = "") -> pj.CallOpParam:
    prm = pj.CallOpParam()
    prm.statusCode = code
    if reason:
        prm.reason = reason
    return prm


def _with_headers(prm: pj.CallOpParam, headers: Headers) -> pj.CallOpParam:
    for name, value in headers:
        header = pj.SipHeader()
        header.hName = name
        header.hValue = value
        prm.txOption.headers.append(header)
    return prm


class TapPort(pj.AudioMediaPort):  # type: ignore[misc]
    """Python's ear and mouth in one call: caller audio out, main's audio in."""

    def __init__(
        self,
        call_id: str,
        rate: int,
        emit: Callable[[str, bytes], None],
        read: Callable[[Any], bytes],
    ) -> None:
        super().__init__()
        self.call_id = call_id
        self._read = read
        self.rate = rate
        self._emit = emit
        self._loop = asyncio.get_running_loop()
        self._frame_bytes = rate // 50 * 2
        self._silence = pj.ByteVector(bytes(self._frame_bytes))
        self.inject: deque[bytes] = deque(maxlen=INJECT_BACKLOG)
        self._playing = False
        self.closed = False
        fmt = pj.MediaFormatAudio()
        fmt.type = pj.PJMEDIA_TYPE_AUDIO
        fmt.clockRate = rate
        fmt.channelCount = 1
        fmt.bitsPerSample = 16
        fmt.frameTimeUsec = 20000
        self.createPort(f"tap-{call_id}", fmt)

    def close(self) -> None:
        """Silence the frame callbacks: call before dropping the port.

        Python empties the object before pjsua2's destructor takes the port off
        the bridge; callbacks in that window must not touch its attributes.
        """
        self.closed = True

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        try:
            if getattr(self, "closed", True):
                return
            if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO:
                self._loop.call_soon_threadsafe(self._emit, self.call_id, self._read(frame.buf))
        except Exception:
            log.exception("tap receive failed")

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:
        try:
            if getattr(self, "closed", True):
                return
            if not self._playing:
                self._playing = len(self.inject) >= INJECT_PREBUFFER
            data = self.inject.popleft() if self._playing and self.inject else None
            self._playing = self._playing and data is not None
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(data) if data is not None else self._silence
            frame.size = self._frame_bytes
        except Exception:
            log.exception("tap request failed")


class GatewayCall(pj.Call):  # type: ignore[misc]
    """A pjsua2 call forwarding its callbacks to the worker, exceptions contained."""

    def __init__(self, worker: Worker, call_id: str, pj_id: int, phone: bool) -> None:
        super().__init__(worker.account, pj_id)
        self.worker = worker
        self.call_id = call_id
        self.phone = phone
        """True for a phone (incoming or callback), False for an operator leg."""
        self.incoming = pj_id != pj.PJSUA_INVALID_ID
        self.answered = False
        self.media_index: int | None = None
        self.tap: TapPort | None = None
        self.ended = False
        self.wideband_offered = False
        """The phone's offer listed G.722."""
        self.upgrading = False
        """Our G.722-only re-offer is under way."""

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        try:
            self.worker.on_call_state(self)
        except Exception:
            log.exception("call state handling failed on %s", self.call_id)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        try:
            self.worker.on_media_state(self)
        except Exception:
            log.exception("media state handling failed on %s", self.call_id)

    def onCallSdpCreated(self, prm: pj.OnCallSdpCreatedParam) -> None:
        """Narrow our wideband re-offer to G.722; other SDPs pass unchanged."""
        try:
            if self.upgrading and not prm.remSdp.wholeSdp:
                narrowed = wideband_only(prm.sdp.wholeSdp)
                if narrowed is not None:
                    prm.sdp.wholeSdp = narrowed
        except Exception:
            log.exception("SDP rewriting failed on %s", self.call_id)

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        """One key press, whether sent as RFC 2833 telephone-event or SIP INFO."""
        try:
            self.worker.on_dtmf(self, str(prm.digit))
        except Exception:
            log.exception("DTMF handling failed on %s", self.call_id)


class Worker:
    """Owns the endpoint, its calls and their conferences; driven by the asyncio loop."""

    def __init__(
        self,
        settings: WorkerSettings,
        send: Callable[[AnyMessage], None],
        audio_welcome: Callable[[], bool],
    ) -> None:
        """``audio_welcome()`` False means the supervisor is not reading: drop caller audio."""
        self.settings = settings
        self._send = send
        self._audio_welcome = audio_welcome
        self.calls: dict[str, GatewayCall] = {}
        self.conferences: dict[str, dict[str, LegMode]] = {}
        """Phone call id -> its operator legs and their modes."""
        self._applied: dict[str, frozenset[Link]] = {}
        self._leg_phone: dict[str, str] = {}
        self._dying: dict[str, TapPort] = {}
        """Taps of ended calls, kept until the bridge has surely let go of them."""
        self._watch = MediaWatch(settings.media_timeout)
        self.prefers_wideband = settings.codecs[:1] == ("G722/16000",)
        """G.722 first in ``[sip] codecs``: phones that offer it get it, in any order."""
        self._read = _vector_reader()
        self._counter = 0
        self.frames_dropped = 0
        self.closing = False
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.maxCalls = MAX_CALLS_PER_WORKER
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = settings.user_agent
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0
        cfg.medConfig.clockRate = 16000
        cfg.logConfig.level = 3
        cfg.logConfig.consoleLevel = int(os.environ.get("GATEWAY_PJSIP_LOG", "1"))
        self.ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = settings.sip_port
        tcfg.boundAddress = settings.bind_address
        if settings.public_host != settings.bind_address:
            tcfg.publicAddress = settings.public_host
        tid = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self.sip_port = int(self.ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        self._set_codecs()
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:gateway@{settings.public_host}:{self.sip_port}"
        media = acfg.mediaConfig.transportConfig
        media.boundAddress = settings.bind_address
        media.port = settings.rtp_port
        media.portRange = settings.rtp_port_range
        if settings.public_host != settings.bind_address:
            media.publicAddress = settings.public_host
        self.account = ForwardingAccount(self.on_incoming)
        self.account.create(acfg)

    def _set_codecs(self) -> None:
        wanted = {name: 255 - rank for rank, name in enumerate(self.settings.codecs)}
        for info in self.ep.codecEnum2():
            name = info.codecId.rsplit("/", 1)[0]  # "PCMU/8000/1" -> "PCMU/8000"
            self.ep.codecSetPriority(info.codecId, wanted.get(name, 0))

    # --- pjsua2 callbacks (asyncio thread) ---------------------------------------

    def _new_id(self) -> str:
        self._counter += 1
        return f"w{self.settings.index}p{os.getpid()}c{self._counter}"

    def _phones(self) -> int:
        return sum(1 for call in self.calls.values() if call.phone)

    def on_incoming(self, prm: pj.OnIncomingCallParam) -> None:
        call_id = self._new_id()
        call = GatewayCall(self, call_id, prm.callId, phone=True)
        self.calls[call_id] = call
        if self.closing or self._phones() > self.settings.phone_slots:
            call.hangup(_op(503 if self.closing else 486))
            return
        try:
            self._offer(call, prm)
        except Exception:
            log.exception("incoming call %s refused: could not be offered", call_id)
            call.hangup(_op(500))

    def _offer(self, call: GatewayCall, prm: pj.OnIncomingCallParam) -> None:
        """Ring the phone and ask the supervisor what to do with it."""
        message = prm.rdata.wholeMsg
        headers = parse_headers(message)
        lookup = {name.lower(): value for name, value in reversed(headers)}
        call.answer(_op(180))
        offered = offered_codecs(message)
        call.wideband_offered = any(codec.startswith("G722/") for codec in offered)
        self._send(
            IncomingCall(
                call_id=call.call_id,
                from_uri=lookup.get("from", ""),
                to_uri=lookup.get("to", ""),
                remote_address=prm.rdata.srcAddress,
                headers=headers,
                offered_codecs=offered,
                sip_call_id=lookup.get("call-id", ""),
            )
        )

    def on_call_state(self, call: GatewayCall) -> None:
        info = call.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            call.answered = True
            self._upgrade_when_confirmed(call)
        if info.state != pj.PJSIP_INV_STATE_DISCONNECTED or call.ended:
            return
        call.ended = True
        self._watch.stop(call.call_id)
        self._send(CallEnded(call.call_id, info.lastStatusCode, info.lastReason))
        phone = self._leg_phone.pop(call.call_id, None)
        if phone is not None:
            self.conferences.get(phone, {}).pop(call.call_id, None)
            self._apply(phone)
        if call.call_id in self._applied:
            self._apply(call.call_id)  # unlinks the tap from the legs still up
            del self._applied[call.call_id]
        for leg in self.conferences.pop(call.call_id, {}):
            self._hangup(leg, 200)  # operator legs make no sense without their phone
        # pjsua2 still uses the Call during this callback: release it right after, before
        # its pjsua slot can serve a new call (~Call clears the slot's user data). The
        # bridge applies link removals on its own clock: free the tap a few frames later.
        loop = asyncio.get_running_loop()
        loop.call_soon(self.calls.pop, call.call_id, None)
        if call.tap is not None:
            call.tap.close()
            self._dying[call.call_id] = call.tap  # the timer holds the id, never the port
            loop.call_later(RELEASE_DELAY, self._dying.pop, call.call_id, None)
            call.tap = None

    def on_dtmf(self, call: GatewayCall, digit: str) -> None:
        key = digit.upper()
        if len(key) != 1 or key not in DTMF_DIGITS:
            log.warning("ignoring DTMF %r on %s: not a keypad key", digit, call.call_id)
            return
        self._send(DtmfReceived(call.call_id, key))

    def on_media_state(self, call: GatewayCall) -> None:
        info = call.getInfo()
        index = next(
            (
                m.index
                for m in info.media
                if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE
            ),
            None,
        )
        if index is None:
            return  # on hold, or no audio yet: links are restored when it is back
        if call.media_index is None:
            call.media_index = index
            call.tap = TapPort(call.call_id, self.settings.tap_rate, self._emit_audio, self._read)
            codec = self._codec(call, index)
            self._send(CallAnswered(call.call_id, codec))
            self._watch.start(call.call_id, self._rx_packets(call), time.monotonic())
            self._link(call)
            call.upgrading = (
                self.prefers_wideband and call.wideband_offered and not codec.startswith("G722")
            )
            self._upgrade_when_confirmed(call)
        else:
            # a re-INVITE (codec change, hold/resume) may have re-created the stream, and
            # its bridge links with it: assert them again (restarting a link is harmless)
            call.media_index = index
            self._link(call, again=True)
            call.upgrading = False
            self._send(CodecChanged(call.call_id, self._codec(call, index)))

    @staticmethod
    def _codec(call: GatewayCall, index: int) -> str:
        stream = call.getStreamInfo(index)
        return f"{stream.codecName}/{stream.codecClockRate}"

    def _upgrade_when_confirmed(self, call: GatewayCall) -> None:
        """Media starts when our 200 goes out, a re-INVITE may only follow the phone's ACK."""
        if call.upgrading and call.answered and call.media_index is not None:
            asyncio.get_running_loop().call_soon(self._upgrade, call)

    def _upgrade(self, call: GatewayCall) -> None:
        """Re-offer G.722 alone to a phone that offered it behind G.711."""
        if call.ended or not call.upgrading:
            return
        try:
            call.reinvite(pj.CallOpParam())
        except pj.Error as exc:
            call.upgrading = False
            log.warning("wideband re-offer on %s failed: %s", call.call_id, _pj_error(exc))

    def _link(self, call: GatewayCall, again: bool = False) -> None:
        """Connect a call's new bridge port: its tap, and its phone's conference."""
        assert call.tap is not None
        phone = call.call_id if call.phone else self._leg_phone.get(call.call_id)
        if not call.phone:  # a leg's own tap: operator audio for recording
            audio = call.getAudioMedia(call.media_index)
            audio.startTransmit(call.tap)
            call.tap.startTransmit(audio)
        if phone is None:
            return
        self.conferences.setdefault(phone, {})
        if again:
            stale = self._applied.get(phone, frozenset())
            self._applied[phone] = frozenset(link for link in stale if call.call_id not in link)
        self._apply(phone)
        if not call.phone and not again:
            self._send(ModeApplied(phone, call.call_id, self.conferences[phone][call.call_id]))

    def _rx_packets(self, call: GatewayCall) -> int:
        assert call.media_index is not None
        return int(call.getStreamStat(call.media_index).rtcp.rxStat.pkt)

    def _emit_audio(self, call_id: str, pcm: bytes) -> None:
        if self._audio_welcome():
            self._send(AudioFrame(call_id, self.settings.tap_rate, pcm))
        else:
            self.frames_dropped += 1

    # --- conference ----------------------------------------------------------------

    def _media(self, phone: str, name: str) -> Any:
        """The bridge port of a conference member, or None once it is gone."""
        if name == TAP:
            owner = self.calls.get(phone)
            return owner.tap if owner is not None else None
        call = self.calls.get(name)
        if call is None or call.ended or call.media_index is None:
            return None
        return call.getAudioMedia(call.media_index)

    def _live(self, call_id: str) -> bool:
        call = self.calls.get(call_id)
        return call is not None and not call.ended and call.media_index is not None

    def _apply(self, phone: str) -> None:
        """Bring the bridge links of ``phone``'s conference to what the modes require."""
        if self._live(phone):
            legs = {leg: m for leg, m in self.conferences.get(phone, {}).items() if self._live(leg)}
            self._set_links(phone, links(phone, legs))
        else:
            self._set_links(phone, frozenset())

    def _set_links(self, phone: str, after: frozenset[Link]) -> None:
        start, stop = link_changes(self._applied.get(phone, frozenset()), after)
        for source, sink in stop:
            # links of a call whose media is gone went with it
            a, b = self._media(phone, source), self._media(phone, sink)
            if a is not None and b is not None:
                with contextlib.suppress(pj.Error):
                    a.stopTransmit(b)
        for source, sink in start:
            self._media(phone, source).startTransmit(self._media(phone, sink))
        self._applied[phone] = after

    # --- commands ------------------------------------------------------------------

    def handle(self, message: AnyMessage) -> None:
        """Carry out one command from the supervisor."""
        if isinstance(message, AudioFrame):
            call = self.calls.get(message.call_id)
            expected = self.settings.tap_rate // 50 * 2
            if message.rate != self.settings.tap_rate or len(message.pcm) != expected:
                # pjmedia copies a whole frame from the buffer: a short one would be overread
                reason = f"audio must be 20 ms at {self.settings.tap_rate} Hz ({expected} bytes)"
                self._send(CommandFailed(message.call_id, reason))
            elif call is not None and call.tap is not None:
                call.tap.inject.append(message.pcm)
        elif isinstance(message, AnswerCall):
            self._decide(message.call_id, 200)
        elif isinstance(message, RejectCall):
            self._decide(message.call_id, message.code, message.reason, message.headers)
        elif isinstance(message, MakeCall):
            self._make_call(message)
        elif isinstance(message, SetMode):
            self._set_mode(message)
        elif isinstance(message, Hangup):
            if not self._hangup(message.call_id, message.code):
                self._send(CommandFailed(message.call_id, "no such call"))
        elif isinstance(message, Ping):
            self._send(Pong(message.nonce, len(self.calls), self.frames_dropped))
        elif isinstance(message, Shutdown):
            self.closing = True
        else:
            self._send(CommandFailed("", f"unexpected {type(message).__name__}"))

    def _decide(self, call_id: str, code: int, reason: str = "", headers: Headers = ()) -> None:
        call = self.calls.get(call_id)
        if call is None or call.ended or not call.incoming or call.answered:
            self._send(CommandFailed(call_id, "no incoming call waiting for a decision"))
            return
        try:
            if code == 200:
                call.answer(_op(200))
            else:
                call.hangup(_with_headers(_op(code, reason), headers))
        except pj.Error as exc:
            self._send(CommandFailed(call_id, _pj_error(exc)))

    def _hangup(self, call_id: str, code: int) -> bool:
        call = self.calls.get(call_id)
        if call is None or call.ended:
            return False
        try:
            call.hangup(_op(code))
        except pj.Error as exc:
            log.warning("hangup of %s failed: %s", call_id, _pj_error(exc))
        return True

    def _make_call(self, message: MakeCall) -> None:
        phone = message.join
        if self.closing:
            reason = "worker is shutting down"
        elif message.call_id in self.calls:
            reason = "call id already in use"
        elif phone is not None and not self._live(phone):
            reason = f"phone call {phone} is not connected on this worker"
        elif len(self.calls) >= MAX_CALLS_PER_WORKER or (
            phone is None and message.phone and self._phones() >= self.settings.phone_slots
        ):
            reason = "no free call slot"
        else:
            reason = ""
        if reason:
            self._send(CallEnded(message.call_id, 503, reason))
            return
        call = GatewayCall(
            self, message.call_id, pj.PJSUA_INVALID_ID, phone=phone is None and message.phone
        )
        prm = _with_headers(pj.CallOpParam(True), message.headers)
        try:
            call.makeCall(message.uri, prm)
        except pj.Error as exc:
            call.ended = True
            self._send(CallEnded(message.call_id, 400, _pj_error(exc)))
            return
        self.calls[message.call_id] = call
        if phone is not None:
            self.conferences[phone][message.call_id] = message.mode
            self._leg_phone[message.call_id] = phone

    def _set_mode(self, message: SetMode) -> None:
        legs = self.conferences.get(message.phone_id)
        if legs is None or message.leg_id not in legs:
            self._send(CommandFailed(message.leg_id, f"not a leg of {message.phone_id}"))
            return
        legs[message.leg_id] = message.mode
        self._apply(message.phone_id)
        self._send(ModeApplied(message.phone_id, message.leg_id, message.mode))

    # --- periodic ------------------------------------------------------------------

    def watch_media(self, now: float) -> None:
        for call in list(self.calls.values()):
            if call.ended or call.media_index is None:
                continue
            change = self._watch.observe(call.call_id, self._rx_packets(call), now)
            if isinstance(change, Lost):
                self._send(MediaLost(change.call_id, round(change.silent_for, 3)))
            elif change is not None:
                self._send(MediaResumed(change.call_id))

    def _detach_ports(self) -> list[TapPort]:
        """Take every tap off the bridge; returns them, to be freed a few frames later."""
        ports = []
        for phone in list(self._applied):
            self._set_links(phone, frozenset())
        for call in self.calls.values():
            if call.tap is None:
                continue
            audio = self._media(call.call_id, call.call_id)
            if audio is not None:
                with contextlib.suppress(pj.Error):
                    audio.stopTransmit(call.tap)
                    call.tap.stopTransmit(audio)
            call.tap.close()
            ports.append(call.tap)
            call.tap = None
        return ports

    def destroy(self) -> None:
        """Release every pjsua2 object, then the library (anything left would abort).

        Ports still linked are unlinked first and given a few frames to leave the
        bridge, whose clock thread might otherwise call a port being freed.
        """
        ports = self._detach_ports()
        time.sleep(RELEASE_DELAY)
        ports.clear()
        self._dying.clear()
        self.calls.clear()  # no other reference may outlive libDestroy (not even a loop's)
        self.account.shutdown()
        del self.account
        gc.collect()
        self.ep.libDestroy()


async def serve(settings: WorkerSettings, ipc_in: int, ipc_out: int) -> None:
    """Run the worker until stdin closes or a Shutdown arrives."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(ipc_in, "rb", buffering=0)
    )
    transport, _ = await loop.connect_write_pipe(
        asyncio.Protocol, os.fdopen(ipc_out, "wb", buffering=0)
    )

    def send(message: AnyMessage) -> None:
        if not transport.is_closing():
            transport.write(encode(message))

    worker = Worker(settings, send, lambda: transport.get_write_buffer_size() < OUT_BUFFER_LIMIT)
    send(WorkerReady(settings.index, worker.sip_port, os.getpid()))
    decoder = MessageDecoder()
    read = asyncio.ensure_future(reader.read(65536))
    next_watch = time.monotonic() + WATCH_INTERVAL
    try:
        while not worker.closing:
            worker.ep.libHandleEvents(0)
            done, _ = await asyncio.wait({read}, timeout=PUMP_INTERVAL)
            if done:
                data = read.result()
                if not data:
                    break  # supervisor gone
                decoder.receive(data)
                for message in decoder.messages():
                    worker.handle(message)
                read = asyncio.ensure_future(reader.read(65536))
            now = time.monotonic()
            if now >= next_watch:
                worker.watch_media(now)
                next_watch = now + WATCH_INTERVAL
    except MessageError:
        log.exception("bad frame from the supervisor; shutting down")
    finally:
        read.cancel()
        await _hang_up_all(worker)
        worker.destroy()
        transport.close()  # last: the supervisor reads end-of-output as "exited"


async def _hang_up_all(worker: Worker, grace: float = 2.0) -> None:
    worker.closing = True
    worker.ep.hangupAllCalls()
    deadline = time.monotonic() + grace
    while any(not c.ended for c in worker.calls.values()) and time.monotonic() < deadline:
        worker.ep.libHandleEvents(10)
        await asyncio.sleep(0)
    await asyncio.sleep(0)  # run the releases scheduled by the last callbacks


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m gateway.sip.worker '<WorkerSettings JSON>'", file=sys.stderr)
        return 2
    settings = WorkerSettings.model_validate_json(args[0])
    logging.basicConfig(
        level=os.environ.get("GATEWAY_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s sip-worker[{settings.index}] %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    faulthandler.enable()  # a crash inside pjsua2 leaves a Python traceback on stderr
    ipc_in, ipc_out = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # stray prints (pjsip's console log) go to stderr, never into frames
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    asyncio.run(serve(settings, ipc_in, ipc_out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
