"""The voice channel as the alarm core sees it: SIP calls attached to alarms.

Implements the SIP supervisor's ``SipHandler`` (which call belongs to which
alarm, what happened to it) and the dialplans' ``VoiceActions`` (call a phone
back, call a manager). The caller's audio is handed to whoever listens to the
alarm: the speech pipeline, WebRTC operators, the recorder.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable

from gateway.alarm.events import AlarmEvent, VoiceConnected, VoiceLost
from gateway.alarm.types import AlarmState, AlarmType
from gateway.api.schemas import alarm_message
from gateway.journal import Journal
from gateway.metrics import Metrics
from gateway.sip.bridge import LegMode
from gateway.sip.digest import (
    NONCE_LIFETIME,
    DigestError,
    challenge,
    make_nonce,
    nonce_age,
    parse_authorization,
)
from gateway.sip.digest import verify as digest_verify
from gateway.sip.errors import SipError
from gateway.sip.events import (
    Answer,
    CallConnected,
    CallDecision,
    CallerAudioDropped,
    CallEvent,
    CallFinished,
    CallKind,
    CallMediaLost,
    CallRef,
    Reject,
    WorkerDied,
)
from gateway.sip.messages import IncomingCall
from gateway.sip.prompt import prompt_for_key
from gateway.sip.supervisor import SipSupervisor
from gateway.store.errors import NotFound
from gateway.store.records import AlarmRecord, Device, NewAlarm
from gateway.tts import TtsError, guess_language, synthesize

log = logging.getLogger("gateway.voice")

_ACK_PROMPT = {
    "fr": "Pour acquitter, appuyez sur la touche {digit}.",
    "en": "To acknowledge, press {digit}.",
}
_SPOKEN_KEY = {"fr": {"*": "étoile", "#": "dièse"}, "en": {"*": "star", "#": "hash"}}

AudioListener = Callable[[str, bytes, int], None]
"""Called with (alarm id, 20 ms of s16le mono PCM, sample rate) for the caller's voice."""

_URI = re.compile(r"(sips?):([^@>;]+@)?(\[[^\]]+\]|[^:>;]+)", re.IGNORECASE)


def sip_identity(value: str) -> str:
    """Who a SIP URI names, as devices are registered: scheme, user and host.

    ``"Agent 7" <sip:a7@Example.org:5062>;tag=1`` -> ``sip:a7@example.org``: the
    port and parameters change with every network a phone roams to.
    """
    match = _URI.search(value)
    if match is None:
        return value.strip()
    scheme, user, host = match.groups()
    return f"{scheme.lower()}:{user or ''}{host.lower()}"


def callback_uri(contact: str) -> str:
    """The address to call a phone back at, from the Contact header of its last call.

    ``<sip:a7@10.1.2.3:5062;transport=udp>;expires=60`` -> ``sip:a7@10.1.2.3:5062;transport=udp``:
    unlike the identity, the port and URI parameters are kept (that is where it listens).
    """
    value = contact.strip()
    if "<" in value and ">" in value:
        return value[value.index("<") + 1 : value.index(">")]
    return value.split(";", 1)[0].strip()


class VoiceService:
    """Attaches SIP calls to alarms and fans the caller's audio out."""

    def __init__(self, journal: Journal, metrics: Metrics) -> None:
        self._journal = journal
        self._store = journal.store
        self._bus = journal.bus
        self._metrics = metrics
        self._clock = journal.clock
        self.supervisor: SipSupervisor | None = None
        self.sip_uri: str | None = None
        """Where phones call when it differs from ``[voice] sip_uri`` (OS-chosen ports)."""
        self._listeners: list[AudioListener] = []
        self._end_listeners: list[Callable[[str], None]] = []
        self._phone_calls: dict[str, str] = {}  # alarm id -> live phone call id
        self._contacts: dict[str, str] = {}  # alarm id -> where its phone last called from
        self._languages: dict[str, str] = {}  # alarm id -> its agent's language, if set
        self._nonce_key = secrets.token_bytes(32)
        """Signs digest nonces; a nonce from another instance is simply challenged again."""

    def add_audio_listener(
        self, listener: AudioListener, ended: Callable[[str], None] | None = None
    ) -> None:
        """``listener`` hears every alarm's caller; ``ended(alarm_id)`` when that call ends."""
        self._listeners.append(listener)
        if ended is not None:
            self._end_listeners.append(ended)

    def phone_call(self, alarm_id: str) -> str | None:
        """The live phone call of an alarm, for operator legs and talk-back."""
        return self._phone_calls.get(alarm_id)

    # --- SipHandler ----------------------------------------------------------------

    async def on_incoming(self, call: IncomingCall) -> CallDecision:
        """X-Alarm-Id first, then the calling device's identity; unknown callers get 403."""
        decision = await self._decide(call)
        if isinstance(decision, Answer):
            contact = call.header("Contact")
            if contact is not None:
                self._contacts[decision.alarm_id] = callback_uri(contact)
            await self._learn_language(decision.alarm_id)
        return decision

    async def _learn_language(self, alarm_id: str) -> None:
        alarm = await self._store.get_alarm(alarm_id)
        device = None if alarm is None else await self._store.device_by_id(alarm.device_id)
        if device is None:
            return
        language = device.language
        if language is None and device.agent_id is not None:
            agent = await self._store.agent(device.agent_id)
            language = None if agent is None else agent.language
        if language is not None:
            self._languages[alarm_id] = language

    def language(self, alarm_id: str) -> str | None:
        """The language the alarm's agent speaks: their device's, else their own record's."""
        return self._languages.get(alarm_id)

    async def _decide(self, call: IncomingCall) -> CallDecision:
        caller = sip_identity(call.from_uri)
        extra = {"sip_call_id": call.sip_call_id, "caller": caller, "remote": call.remote_address}
        if call.alarm_id is not None:
            alarm = await self._store.get_alarm(call.alarm_id)
            if alarm is not None and alarm.state is not AlarmState.CLOSED:
                return Answer(alarm.id)
            log.warning("call names unknown or closed alarm %r", call.alarm_id, extra=extra)
        device = await self._caller(call)
        if isinstance(device, Reject):
            if device.code != 401:
                log.warning("call refused: %s", device.reason, extra=extra)
                self._metrics.calls_refused.inc()
            return device
        open_alarm = await self._store.latest_open_alarm(device.id)
        if open_alarm is not None:
            return Answer(open_alarm.id)
        # a phone with no data link must still be heard: the call itself is the alarm
        now = self._clock()
        alarm, _ = await self._store.raise_alarm(
            NewAlarm(device.id, AlarmType.SOS, now, None, None, "sip"), now
        )
        self._metrics.alarms_received.labels(alarm.alarm_type.value, "sip").inc()
        log.info("alarm raised by a SIP call", extra={**extra, "alarm_id": alarm.id})
        self._bus.publish(alarm_message(alarm))
        return Answer(alarm.id)

    async def _caller(self, call: IncomingCall) -> Device | Reject:
        """The calling device: named by a trusted edge, proven by digest, or by its From URI.

        A device that has SIP credentials must prove them (401 challenge); one without
        is known by its registered SIP URI alone, as before credentials were issued.
        """
        assert self.supervisor is not None
        config = self.supervisor.config
        named = call.header("X-Authenticated-Device")
        if named is not None and call.remote_address.rsplit(":", 1)[0] in config.trusted_edges:
            return await self._credentialed(named.strip()) or Reject(403, "Unknown device")
        authorization = call.header("Authorization")
        if authorization is not None:
            return await self._digest(authorization, config.realm)
        device = await self._store.device_by_sip_uri(sip_identity(call.from_uri))
        if device is None or device.revoked_at is not None:
            return Reject(403, "Forbidden")
        if device.sip_username is not None:
            return self._challenge(config.realm)
        return device

    async def _digest(self, authorization: str, realm: str) -> Device | Reject:
        try:
            credentials = parse_authorization(authorization)
        except DigestError as exc:
            return Reject(400, f"Bad Authorization: {exc}")
        age = nonce_age(self._nonce_key, credentials.nonce, time.time())
        if credentials.realm != realm or age is None:
            return self._challenge(realm)
        if age > NONCE_LIFETIME:
            return self._challenge(realm, stale=True)
        found = await self._store.sip_credentials(credentials.username)
        if found is None or not digest_verify(found[1], "INVITE", credentials):
            return Reject(403, "Wrong SIP credentials")
        return await self._store.device_by_id(found[0]) or Reject(403, "Unknown device")

    async def _credentialed(self, sip_username: str) -> Device | None:
        found = await self._store.sip_credentials(sip_username)
        return None if found is None else await self._store.device_by_id(found[0])

    def _challenge(self, realm: str, *, stale: bool = False) -> Reject:
        nonce = make_nonce(self._nonce_key, time.time())
        header = ("WWW-Authenticate", challenge(realm, nonce, stale=stale))
        return Reject(401, "Unauthorized", (header,))

    def on_call_event(self, event: CallEvent) -> None:
        if isinstance(event, CallerAudioDropped):
            self._metrics.caller_audio_dropped.inc(event.frames)
            log.warning("SIP worker %d dropped %d caller audio frames", event.worker, event.frames)
        elif isinstance(event, WorkerDied):
            log.error("SIP worker %d died with %d calls", event.worker, len(event.calls))
            for ref in event.calls:
                self._lost(ref, "the SIP worker carrying the call died")
        elif isinstance(event, CallConnected) and event.call.kind is not CallKind.OPERATOR:
            if event.call.alarm_id is not None:
                self._phone_calls[event.call.alarm_id] = event.call.call_id
                self._record(event.call.alarm_id, VoiceConnected("sip", event.call.call_id))
        elif isinstance(event, CallMediaLost):
            self._lost(event.call, f"no audio from the phone for {event.silent_for:.0f} s")
        elif isinstance(event, CallFinished):
            self._lost(event.call, f"call ended ({event.code} {event.reason})")

    def on_audio(self, call_id: str, pcm: bytes, rate: int) -> None:
        alarm_id = next((a for a, c in self._phone_calls.items() if c == call_id), None)
        if alarm_id is None:
            return
        for listener in self._listeners:
            try:
                listener(alarm_id, pcm, rate)
            except Exception:  # one broken consumer must not starve the others
                log.exception("audio listener failed", extra={"alarm_id": alarm_id})

    def _lost(self, ref: CallRef, reason: str) -> None:
        if ref.kind is CallKind.OPERATOR or ref.alarm_id is None:
            return
        if self._phone_calls.get(ref.alarm_id) != ref.call_id:
            return  # not the alarm's current voice leg (already lost, or replaced)
        del self._phone_calls[ref.alarm_id]
        for ended in self._end_listeners:
            ended(ref.alarm_id)
        self._record(ref.alarm_id, VoiceLost("sip", ref.call_id, reason))

    def _record(self, alarm_id: str, event: AlarmEvent) -> None:
        self._journal.record_soon(alarm_id, event, "sip")

    # --- VoiceActions (for the dialplans) -------------------------------------------

    async def callback_phone(self, alarm_id: str) -> None:
        """Call the alarm's phone back with auto-answer headers (one attempt per step)."""
        supervisor = self._require()
        alarm = await self._alarm(alarm_id)
        uri = self._contacts.get(alarm_id)
        if uri is None:
            device = await self._store.device_by_id(alarm.device_id)
            if device is None or device.sip_uri is None:
                raise RuntimeError(f"device {alarm.device_id!r} has no SIP URI to call back")
            uri = device.sip_uri
        await supervisor.callback(alarm_id, uri, attempts=1)

    async def call_manager(
        self, alarm_id: str, uri: str, message: str, ack_digit: str, ack_timeout: float = 60.0
    ) -> bool:
        """Ring a manager, speak ``message`` and how to acknowledge; True once they press
        ``ack_digit``. False if they hang up, press another key after the message was
        repeated, or press nothing for ``ack_timeout`` s (the dialplan then tries the next
        contact). Raises if the call cannot be placed or answered (unreachable, busy, no
        answer), or if speech synthesis fails.
        """
        supervisor = self._require()
        language = guess_language(message)
        prompt = _ACK_PROMPT[language].format(digit=_SPOKEN_KEY[language].get(ack_digit, ack_digit))
        extra = {"alarm_id": alarm_id, "uri": uri}
        try:
            speech = await synthesize(f"{message} {prompt}", language)  # before ringing anyone
            result = await prompt_for_key(
                supervisor, uri, speech, ack_digit, alarm_id=alarm_id, key_window=ack_timeout
            )
        except (SipError, TtsError) as exc:
            log.warning(
                "manager call for alarm %s to %s failed: %s", alarm_id, uri, exc, extra=extra
            )
            raise RuntimeError(f"manager call to {uri} failed: {exc}") from exc
        log.info("manager call for alarm %s to %s: %s", alarm_id, uri, result.outcome, extra=extra)
        return result.acknowledged

    async def ring_station(self, alarm_id: str, uri: str, ring_timeout: float) -> str:
        """Ring an operator's SIP station with the alarm's call; its leg id once answered.

        The station joins listening; cancelling the wait hangs the ringing station up.
        """
        supervisor = self._require()
        phone_call = self.phone_call(alarm_id)
        if phone_call is None:
            raise RuntimeError("the alarm has no live call to join")
        leg = await supervisor.call_operator(
            phone_call, uri, LegMode.LISTEN, ring_timeout=ring_timeout, auto_answer=False
        )
        return leg.call_id

    async def hang_up(self, call_id: str) -> None:
        await self._require().hangup(call_id, 200)

    def _require(self) -> SipSupervisor:
        if self.supervisor is None:
            raise RuntimeError("the SIP voice channel is not running")
        return self.supervisor

    async def _alarm(self, alarm_id: str) -> AlarmRecord:
        alarm = await self._store.get_alarm(alarm_id)
        if alarm is None:
            raise NotFound(f"no alarm {alarm_id!r}")
        return alarm
