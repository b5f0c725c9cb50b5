"""A one-line pjsua2 phone: places or auto-answers one call and plays a clip into it.

Run inside the ``alarm-gateway phone`` process itself, loaded fresh (never forked).
SIP callbacks run on the asyncio thread, which pumps ``libHandleEvents`` (see
gateway/sip/worker.py); audio is played by pjmedia's WAV player, so no Python code
runs on the media clock thread. Every pjsua2 callback catches all exceptions: one
escaping would abort the process.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pjsua2 as pj

from gateway.phone.audio import Clip
from gateway.phone.errors import CallFailed, UsageError
from gateway.phone.signals import auto_answer_signals, decide
from gateway.sip.messages import Headers
from gateway.sip.pjglue import ForwardingAccount
from gateway.sip.sipmsg import parse_headers

log = logging.getLogger("gateway.phone")

PUMP_INTERVAL = 0.005
"""Seconds between ``libHandleEvents`` polls."""
AUDIO_TAIL = 0.5
"""Seconds kept after the clip before hanging up: the far end's jitter buffer drains."""
BYE_TIMEOUT = 5.0
Report = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class PhoneConfig:
    identity: str
    """SIP URI the phone calls from (its device identity), e.g. sip:agent42@127.0.0.1."""
    bind: str = "127.0.0.1"
    sip_port: int = 0
    """0: any free port."""
    rtp_port: int = 4000
    rtp_port_range: int = 20
    codecs: tuple[str, ...] = ("G722/16000", "PCMA/8000", "PCMU/8000")
    trusted: tuple[str, ...] = ()
    """Hosts whose auto-answer requests are obeyed; empty: any host."""
    record: Path | None = None
    """WAV file receiving what the far end says (mono 16-bit, 16 kHz), or None."""


def _op(code: int = 0, reason: str = "") -> pj.CallOpParam:
    prm = pj.CallOpParam(True)
    if code:
        prm.statusCode = code
    if reason:
        prm.reason = reason
    return prm


def _pj_error(exc: pj.Error) -> str:
    return f"{getattr(exc, 'title', '')}: {getattr(exc, 'reason', '')}".strip(": ")


@dataclass(eq=False)
class CallProgress:
    """How one call is going, as futures the commands await.

    Commands hold this, never the pjsua2 ``Call``: a ``Call`` still referenced when
    the library is destroyed aborts the process.
    """

    key: int
    connected: asyncio.Future[str]
    """Resolves to the codec once audio flows."""
    ended: asyncio.Future[tuple[int, str]]
    """Resolves to the final (SIP status, reason)."""

    async def settle(self, within: float) -> bool:
        """Wait until the call is connected (True), over, or ``within`` s passed (False)."""
        outcomes: set[asyncio.Future[object]] = {self.connected, self.ended}  # type: ignore[arg-type]
        await asyncio.wait(outcomes, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        return self.connected.done()


class PhoneCall(pj.Call):  # type: ignore[misc]
    """A pjsua2 call forwarding its callbacks to the phone, exceptions contained."""

    def __init__(self, phone: SoftPhone, pj_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(phone.account, pj_id)
        self.phone = phone
        loop = asyncio.get_running_loop()
        self.progress = CallProgress(len(phone.calls), loop.create_future(), loop.create_future())
        phone.calls.append(self)
        self.state = ""

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        try:
            self.phone.on_state(self)
        except Exception:
            log.exception("call state handling failed")

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        try:
            self.phone.on_media(self)
        except Exception:
            log.exception("media state handling failed")


class SoftPhone:
    """The endpoint, its account and at most one call in progress."""

    def __init__(self, config: PhoneConfig, clip: Clip | None, report: Report) -> None:
        self.config = config
        self.clip = clip
        self.report = report
        self.calls: list[PhoneCall] = []
        """Every call object, kept until the library is destroyed (pjsua2 needs them)."""
        self.ports: list[pj.AudioMedia] = []
        """Players and recorders, released before the library like the calls."""
        self.answered: asyncio.Queue[tuple[CallProgress, Headers]] = asyncio.Queue()
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.maxCalls = 4
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "alarm-gateway phone simulator"
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0
        cfg.medConfig.clockRate = 16000
        cfg.logConfig.level = 3
        cfg.logConfig.consoleLevel = int(os.environ.get("GATEWAY_PJSIP_LOG", "0"))
        self.ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = config.sip_port
        tcfg.boundAddress = config.bind
        try:
            tid = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        except pj.Error as exc:
            self.destroy()
            raise UsageError(
                f"cannot listen on {config.bind}:{config.sip_port}: {_pj_error(exc)}"
            ) from None
        self.sip_port = int(self.ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        self._set_codecs()
        acfg = pj.AccountConfig()
        acfg.idUri = config.identity
        media = acfg.mediaConfig.transportConfig
        media.boundAddress = config.bind
        media.port = config.rtp_port
        media.portRange = config.rtp_port_range
        self.account = ForwardingAccount(self.on_incoming)
        self.account.create(acfg)

    def _set_codecs(self) -> None:
        available = {info.codecId.rsplit("/", 1)[0]: info.codecId for info in self.ep.codecEnum2()}
        unknown = [c for c in self.config.codecs if c not in available]
        if unknown:
            self.destroy()
            raise UsageError(f"unknown codec {unknown[0]!r}; choose from {', '.join(available)}")
        wanted = {name: 255 - rank for rank, name in enumerate(self.config.codecs)}
        for name, codec_id in available.items():
            self.ep.codecSetPriority(codec_id, wanted.get(name, 0))

    # --- pjsua2 callbacks (asyncio thread) ---------------------------------------

    def on_incoming(self, prm: pj.OnIncomingCallParam) -> None:
        call = PhoneCall(self, prm.callId)
        headers = parse_headers(prm.rdata.wholeMsg)
        caller = next((v for n, v in headers if n.lower() == "from"), "?")
        signals = auto_answer_signals(headers)
        busy = any(not c.progress.ended.done() for c in self.calls if c is not call)
        source = str(prm.rdata.srcAddress).rsplit(":", 1)[0]
        decision = decide(signals, source, self.config.trusted, busy)
        if decision.code != 200:
            refusal = f"{decision.code} {decision.reason}"
            self.report(f"refused call from {caller} with {refusal}: {decision.why}")
            call.hangup(_op(decision.code, decision.reason))
            return
        self.report(f"incoming call from {caller}; auto-answer headers:")
        for name, value in signals:
            self.report(f"  {name}: {value}")
        call.answer(_op(200))
        self.answered.put_nowait((call.progress, signals))

    def on_state(self, call: PhoneCall) -> None:
        info = call.getInfo()
        if info.stateText != call.state:
            call.state = info.stateText
            code = f" ({info.lastStatusCode} {info.lastReason})" if info.lastStatusCode else ""
            self.report(f"call {info.stateText.lower()}{code}")
        ended = call.progress.ended
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not ended.done():
            ended.set_result((int(info.lastStatusCode), str(info.lastReason)))

    def on_media(self, call: PhoneCall) -> None:
        info = call.getInfo()
        index = next(
            (
                m.index
                for m in info.media
                if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE
            ),
            None,
        )
        if index is None or call.progress.connected.done():
            return
        stream = call.getStreamInfo(index)
        audio = call.getAudioMedia(index)
        if self.clip is not None:
            player = pj.AudioMediaPlayer()
            player.createPlayer(str(self.clip.path), pj.PJMEDIA_FILE_NO_LOOP)
            self.ports.append(player)
            player.startTransmit(audio)
        if self.config.record is not None:
            recorder = pj.AudioMediaRecorder()
            recorder.createRecorder(str(self.config.record))
            self.ports.append(recorder)
            audio.startTransmit(recorder)
        call.progress.connected.set_result(f"{stream.codecName}/{stream.codecClockRate}")

    # --- commands --------------------------------------------------------------------

    async def dial(self, uri: str, headers: Headers, ring_timeout: float) -> CallProgress:
        """Call ``uri`` with ``headers``; return once answered, or raise :class:`CallFailed`."""
        call = PhoneCall(self)
        prm = _op()
        for name, value in headers:
            header = pj.SipHeader()
            header.hName = name
            header.hValue = value
            prm.txOption.headers.append(header)
        progress = call.progress
        try:
            call.makeCall(uri, prm)
        except pj.Error as exc:
            progress.ended.set_result((400, _pj_error(exc)))
            raise CallFailed(f"cannot call {uri}: {_pj_error(exc)}", 400) from None
        del call  # only self.calls may hold it when the library goes
        if await progress.settle(ring_timeout):
            return progress
        if progress.ended.done():
            code, reason = progress.ended.result()
            raise CallFailed(f"call to {uri} failed: {code} {reason}", code)
        await self.hang_up(progress)
        raise CallFailed(f"call to {uri} not answered within {ring_timeout:g} s", 408)

    async def talk(self, call: CallProgress, hold: float) -> bool:
        """Let the clip play, stay ``hold`` seconds more, then hang up.

        Returns False if the far end hung up first.
        """
        seconds = (self.clip.seconds + AUDIO_TAIL if self.clip else 0.0) + hold
        with suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(call.ended), seconds)
            return False
        await self.hang_up(call)
        return True

    async def hang_up(self, call: CallProgress) -> None:
        if call.ended.done():
            return
        try:
            self.calls[call.key].hangup(_op())  # CANCEL before the answer, BYE after
        except pj.Error as exc:
            log.warning("hangup failed: %s", _pj_error(exc))
        with suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(call.ended), BYE_TIMEOUT)

    async def pump(self) -> None:
        while True:
            self.ep.libHandleEvents(0)
            await asyncio.sleep(PUMP_INTERVAL)

    def destroy(self) -> None:
        """Release every pjsua2 object, then the library (anything left would abort)."""
        self.ports.clear()  # a recorder completes its WAV header here
        self.calls.clear()
        if hasattr(self, "account"):
            self.account.shutdown()
            del self.account
        gc.collect()
        self.ep.libDestroy()


@asynccontextmanager
async def open_phone(
    config: PhoneConfig, clip: Clip | None, report: Report
) -> AsyncIterator[SoftPhone]:
    """A running phone; on exit, every call is hung up and the library released."""
    phone = SoftPhone(config, clip, report)
    pump = asyncio.create_task(phone.pump())
    try:
        yield phone
    finally:
        for progress in [call.progress for call in phone.calls]:
            await phone.hang_up(progress)
        pump.cancel()
        with suppress(asyncio.CancelledError):
            await pump
        phone.destroy()
