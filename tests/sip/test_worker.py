"""The pjsua2 worker against real SIP peers (sipp, raw UDP), driven by a supervisor."""

from __future__ import annotations

import asyncio

import pytest

from gateway.sip.events import (
    CallCodecChanged,
    CallConnected,
    CallEvent,
    CallFinished,
    CallMediaLost,
    Reject,
)

from .conftest import (
    TAP_RATE,
    FakeHandler,
    RunSipp,
    SipProbe,
    Speech,
    StartSupervisor,
    aligned_correlation,
)

pytestmark = pytest.mark.integration


async def test_alarm_call_is_auto_answered_and_the_callers_voice_reaches_main(
    start_supervisor: StartSupervisor, sipp: RunSipp, speech: Speech
) -> None:
    supervisor, handler = await start_supervisor(media_timeout=1.0)
    hold_ms = int(speech.seconds * 1000) + 2500  # silent tail: the media watch must notice
    phone = await sipp(
        "uac_alarm.xml",
        f"127.0.0.1:{supervisor.worker_ports()[0]}",
        keys={"alarm_id": "A-17", "codecs": "0 8"},
        fill={"AUDIO": str(speech.ulaw), "HOLD_MS": str(hold_ms)},
    )
    assert await phone.wait() == 0, phone.errors.read_text() if phone.errors.exists() else ""
    await handler.wait_for(handler.finished)

    [call] = handler.incoming
    assert call.alarm_id == "A-17"
    assert call.offered_codecs == ("PCMU/8000", "PCMA/8000")
    assert call.from_uri.startswith("<sip:phone-1@127.0.0.1:")
    assert call.remote_address.startswith("127.0.0.1:")
    [connected] = handler.of_type(CallConnected)
    assert (connected.call.call_id, connected.call.alarm_id) == (call.call_id, "A-17")
    assert connected.codec == "PCMU/8000"

    corr = aligned_correlation(speech.reference, handler.audio[call.call_id])
    assert corr >= 0.95, f"caller audio correlation {corr:.3f}"
    print(f"caller audio correlation {corr:.4f}")

    [lost] = handler.of_type(CallMediaLost)
    assert lost.call.alarm_id == "A-17"
    assert 1.0 <= lost.silent_for < 2.0
    [finished] = handler.of_type(CallFinished)
    assert finished.code == 200


async def test_unknown_device_is_refused_with_403(
    start_supervisor: StartSupervisor, probe: SipProbe
) -> None:
    supervisor, handler = await start_supervisor(
        handler=FakeHandler(decide=lambda call: Reject(403, "Unknown device"))
    )
    port = supervisor.worker_ports()[0]
    statuses = await probe.exchange(port, probe.invite(port))
    assert "SIP/2.0 403 Unknown device" in statuses
    assert handler.of_type(CallConnected) == []


class SlowHandler(FakeHandler):
    async def on_incoming(self, call: object) -> Reject:
        await asyncio.sleep(5)
        raise AssertionError("the supervisor should have stopped waiting")


async def test_main_too_slow_to_decide_gets_503_so_the_phone_tries_elsewhere(
    start_supervisor: StartSupervisor, probe: SipProbe
) -> None:
    supervisor, _ = await start_supervisor(handler=SlowHandler(), decision_timeout=0.3)
    port = supervisor.worker_ports()[0]
    statuses = await probe.exchange(port, probe.invite(port), listen=1.5)
    assert "SIP/2.0 180 Ringing" in statuses
    assert statuses[-1] == "SIP/2.0 503 Service Unavailable"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("garbage", []),
        ("no common codec", ["SIP/2.0 488 Not Acceptable Here"]),
        ("missing Contact", ["SIP/2.0 400 Bad Request"]),
        ("broken SDP", ["SIP/2.0 400 Bad SDP"]),
        ("missing Call-ID", []),  # no response can be built: dropped, as RFC 3261 allows
        ("missing Via", []),
    ],
)
async def test_malformed_sip_gets_an_error_and_the_worker_stays_up(
    start_supervisor: StartSupervisor, probe: SipProbe, case: str, expected: list[str]
) -> None:
    supervisor, handler = await start_supervisor()
    port = supervisor.worker_ports()[0]
    pid = supervisor.worker_pid(0)
    packet = {
        "garbage": b"\x00\xff\x13garbage\r\n\r\n",
        "no common codec": probe.invite(port, codecs="3 18"),  # GSM, G.729: not enabled
        "missing Contact": probe.invite(port, drop=("Contact",)),
        "broken SDP": probe.invite(port).replace(b"c=IN IP4 127.0.0.1", b"c=IN"),
        "missing Call-ID": probe.invite(port, drop=("Call-ID",)),
        "missing Via": probe.invite(port, drop=("Via",)),
    }[case]
    assert sorted(set(await probe.exchange(port, packet))) == expected
    assert handler.incoming == []

    statuses = await probe.exchange(port, probe.invite(port))  # still serving
    assert "SIP/2.0 200 OK" in statuses
    assert supervisor.worker_pid(0) == pid, "the worker was not restarted"


@pytest.mark.parametrize(
    ("offer", "codec"),
    [
        ("9 0 8", "G722/16000"),
        ("8 0", "PCMA/8000"),
        ("0 8", "PCMU/8000"),
    ],
)
async def test_codec_follows_the_phones_offer_among_ours(
    start_supervisor: StartSupervisor, probe: SipProbe, offer: str, codec: str
) -> None:
    supervisor, handler = await start_supervisor()
    port = supervisor.worker_ports()[0]
    assert "SIP/2.0 200 OK" in await probe.exchange(port, probe.invite(port, codecs=offer))
    await handler.wait_for(lambda: handler.of_type(CallConnected))
    assert handler.of_type(CallConnected)[0].codec == codec


async def test_a_phone_offering_g722_behind_g711_is_moved_to_g722(
    start_supervisor: StartSupervisor, sipp: RunSipp
) -> None:
    """pjsip answers in the phone's order; the worker re-offers G.722 alone right after."""
    supervisor, handler = await start_supervisor()
    phone = await sipp(
        "uac_wideband.xml",
        f"127.0.0.1:{supervisor.worker_ports()[0]}",
        keys={"alarm_id": "A-9"},
        fill={"HOLD_MS": "500"},
    )
    assert await phone.wait() == 0
    await handler.wait_for(handler.finished)
    assert [event.codec for event in handler.of_type(CallConnected)] == ["PCMU/8000"]
    assert [event.codec for event in handler.of_type(CallCodecChanged)] == ["G722/16000"]


async def test_phones_beyond_their_slots_get_486_so_the_edge_tries_another_worker(
    start_supervisor: StartSupervisor, probe: SipProbe
) -> None:
    supervisor, handler = await start_supervisor(phone_slots=1)
    port = supervisor.worker_ports()[0]
    assert "SIP/2.0 200 OK" in await probe.exchange(port, probe.invite(port))
    assert "SIP/2.0 486 Busy Here" in await probe.exchange(port, probe.invite(port))
    assert len(handler.incoming) == 1, "main is not asked about calls that cannot be taken"


async def test_codec_change_by_re_invite_keeps_the_tap(
    start_supervisor: StartSupervisor, sipp: RunSipp, speech: Speech
) -> None:
    supervisor, handler = await start_supervisor()
    hold_ms = int(speech.seconds * 1000) + 300
    phone = await sipp(
        "uac_reinvite.xml",
        f"127.0.0.1:{supervisor.worker_ports()[0]}",
        keys={"alarm_id": "A-3"},
        fill={"AUDIO": str(speech.ulaw), "AUDIO_ALAW": str(speech.alaw), "HOLD_MS": str(hold_ms)},
    )
    assert await phone.wait() == 0
    await handler.wait_for(handler.finished)
    [connected] = handler.of_type(CallConnected)
    audio = handler.audio[connected.call.call_id]
    after = audio[int(hold_ms / 1000 * TAP_RATE) * 2 :]  # what the phone said as PCMA
    assert aligned_correlation(speech.reference, after) >= 0.95


class BrokenHandler(FakeHandler):
    def on_call_event(self, event: CallEvent) -> None:
        super().on_call_event(event)
        raise RuntimeError("bug in the main process")

    def on_audio(self, call_id: str, pcm: bytes, rate: int) -> None:
        super().on_audio(call_id, pcm, rate)
        raise RuntimeError("bug in the main process")


async def test_failing_handler_callbacks_do_not_stop_the_channel(
    start_supervisor: StartSupervisor, probe: SipProbe
) -> None:
    supervisor, handler = await start_supervisor(handler=BrokenHandler())
    port = supervisor.worker_ports()[0]
    assert "SIP/2.0 200 OK" in await probe.exchange(port, probe.invite(port))
    await handler.wait_for(lambda: handler.audio and handler.of_type(CallConnected))
    assert "SIP/2.0 200 OK" in await probe.exchange(port, probe.invite(port))
    await handler.wait_for(lambda: len(handler.of_type(CallConnected)) == 2)
