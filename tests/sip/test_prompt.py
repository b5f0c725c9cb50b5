"""Spoken prompts: a real worker rings sipp playing a manager who listens and presses keys."""

from __future__ import annotations

import asyncio
import os
import signal
import struct
from pathlib import Path

import pytest

from gateway.media.pcm import resample, to_samples
from gateway.sip.errors import CallFailedError
from gateway.sip.events import CallKind, WorkerDied, WorkerStarted
from gateway.sip.prompt import KeyJudge, PromptResult, prompt_for_key
from gateway.tts import synthesize
from tests.sip.conftest import (
    RunSipp,
    Speech,
    StartSupervisor,
    free_udp_port,
    matching_share,
)

PCAPS = Path("/usr/share/sip-tester")
EVENT_PT = 120
"""telephone-event payload type pjsip offers; sipp's pcaps use 101, so they are rewritten."""


@pytest.mark.parametrize(
    ("presses", "result"),
    [
        ([("1", False)], PromptResult(True, "pressed 1", "1")),
        ([("1", True)], PromptResult(True, "pressed 1", "1")),
        ([("3", False)], None),
        ([("3", False), ("1", False)], PromptResult(True, "pressed 1", "31")),
        ([("3", False), ("#", True)], PromptResult(False, "pressed #, not 1", "3#")),
        ([("9", True)], PromptResult(False, "pressed 9, not 1", "9")),
    ],
)
def test_keys_are_judged(presses: list[tuple[str, bool]], result: PromptResult | None) -> None:
    judge = KeyJudge("1")
    outcomes = [judge.press(digit, message_done) for digit, message_done in presses]
    assert all(outcome is None for outcome in outcomes[:-1])
    assert outcomes[-1] == result


def dtmf_pcap(key: str, folder: Path, payload_type: int = EVENT_PT) -> str:
    """sipp's RFC 2833 pcap of ``key`` with its RTP payload type changed.

    A phone answers with the offerer's telephone-event type (RFC 3264 6.1), and pjsip
    drops events sent with any other.
    """
    data = bytearray((PCAPS / f"dtmf_2833_{key}.pcap").read_bytes())
    assert struct.unpack_from("<I", data)[0] == 0xA1B2C3D4 and data[20] == 1  # Ethernet
    offset = 24
    while offset < len(data):
        (length,) = struct.unpack_from("<I", data, offset + 8)
        ip = offset + 16 + 14
        rtp = ip + (data[ip] & 0x0F) * 4 + 8
        data[rtp + 1] = (data[rtp + 1] & 0x80) | payload_type
        offset += 16 + length
    path = folder / f"dtmf_{key}_pt{payload_type}.pcap"
    path.write_bytes(data)
    return str(path)


@pytest.mark.integration
async def test_manager_hears_the_message_and_presses_the_key(
    start_supervisor: StartSupervisor, sipp: RunSipp, tmp_path: Path
) -> None:
    supervisor, handler = await start_supervisor()
    port = free_udp_port()
    fill = {"LISTEN": "3000", "DTMF": dtmf_pcap("1", tmp_path), "EVENT_PT": str(EVENT_PT)}
    peer = await sipp("uas_manager.xml", "", port=port, fill=fill, options=("-rtp_echo",))
    speech = await synthesize("Alarm for agent seven in the warehouse. Press 1.", "en")
    result = await prompt_for_key(
        supervisor, f"sip:manager@127.0.0.1:{port}", speech, "1", alarm_id="a1", key_window=20
    )
    assert result == PromptResult(True, "pressed 1", "1")
    assert await peer.wait(10) == 0, peer.log()
    # sipp echoed what it heard: the spoken message crossed the call
    (call_id,) = handler.audio
    assert call_id.startswith(CallKind.MANAGER.value[:2])
    echoed = handler.audio[call_id]
    narrowband = resample(resample(speech[0], 16000, 8000), 8000, 16000)  # as G.711 carries it
    assert matching_share(to_samples(narrowband), echoed, at_least=0.9) >= 0.8  # 10/11 seen
    # a manager call's events go to its prompt, never to the phones' handler
    assert all(isinstance(e, WorkerStarted) for e in handler.events), handler.events
    assert supervisor.calls() == []


@pytest.mark.integration
async def test_another_key_after_the_last_repeat_is_a_refusal(
    start_supervisor: StartSupervisor, sipp: RunSipp, tmp_path: Path
) -> None:
    supervisor, _ = await start_supervisor()
    port = free_udp_port()
    speech = await synthesize("Alarm.", "en")  # about 0.5 s: over when 3 is pressed
    fill = {"LISTEN": "2000", "DTMF": dtmf_pcap("3", tmp_path), "EVENT_PT": str(EVENT_PT)}
    peer = await sipp("uas_manager.xml", "", port=port, fill=fill)
    result = await prompt_for_key(
        supervisor, f"sip:manager@127.0.0.1:{port}", speech, "1", repeats=1, key_window=20
    )
    assert result == PromptResult(False, "pressed 3, not 1", "3")
    assert await peer.wait(10) == 0, peer.log()


@pytest.mark.integration
async def test_another_key_while_the_message_repeats_is_ignored(
    start_supervisor: StartSupervisor, sipp: RunSipp, tmp_path: Path
) -> None:
    supervisor, _ = await start_supervisor()
    port = free_udp_port()
    speech = await synthesize("Alarm for agent seven in the warehouse.", "en")
    fill = {"LISTEN": "500", "DTMF": dtmf_pcap("3", tmp_path), "EVENT_PT": str(EVENT_PT)}
    await sipp("uas_manager.xml", "", port=port, fill=fill)
    result = await prompt_for_key(
        supervisor, f"sip:manager@127.0.0.1:{port}", speech, "1", repeats=2, key_window=6
    )
    assert result == PromptResult(False, "no key pressed within 6 s", "3")


@pytest.mark.integration
async def test_hanging_up_without_a_key_is_no_acknowledgement(
    start_supervisor: StartSupervisor, sipp: RunSipp
) -> None:
    supervisor, _ = await start_supervisor()
    port = free_udp_port()
    peer = await sipp("uas_hangs_up.xml", "", port=port, fill={"LISTEN": "1500"})
    speech = await synthesize("Alarm for agent seven.", "en")
    result = await prompt_for_key(
        supervisor, f"sip:manager@127.0.0.1:{port}", speech, "1", key_window=15
    )
    assert not result.acknowledged
    assert result.outcome.startswith("hung up (200"), result
    assert await peer.wait(10) == 0, peer.log()
    assert supervisor.calls() == []


@pytest.mark.parametrize(
    ("uri", "code"),
    [("sip:manager@127.0.0.1:{port}", 408), ("manager at home", 400)],
    ids=["nobody-listening", "not-a-uri"],
)
@pytest.mark.integration
async def test_a_call_that_cannot_be_answered_raises_with_its_status(
    start_supervisor: StartSupervisor, uri: str, code: int
) -> None:
    supervisor, handler = await start_supervisor()
    speech = await synthesize("Alarm.", "en")
    target = uri.format(port=free_udp_port())
    with pytest.raises(CallFailedError) as info:
        await prompt_for_key(supervisor, target, speech, "1", ring_timeout=3)
    assert info.value.code == code, info.value
    await handler.wait_for(lambda: supervisor.calls() == [])
    assert all(isinstance(e, WorkerStarted) for e in handler.events), handler.events


@pytest.mark.integration
async def test_a_manager_call_takes_no_phone_slot(
    start_supervisor: StartSupervisor, sipp: RunSipp, tmp_path: Path, speech: Speech
) -> None:
    """With one phone slot taken by a manager call, a phone callback still gets through."""
    supervisor, handler = await start_supervisor(phone_slots=1)
    port = free_udp_port()
    fill = {"LISTEN": "60000", "DTMF": dtmf_pcap("1", tmp_path), "EVENT_PT": str(EVENT_PT)}
    await sipp("uas_manager.xml", "", port=port, fill=fill)
    manager = await supervisor.call(f"sip:manager@127.0.0.1:{port}", lambda event: None)
    phone_port = free_udp_port()
    await sipp("uas_phone.xml", "", port=phone_port, fill={"AUDIO": str(speech.ulaw)})
    phone = await supervisor.callback("a1", f"sip:phone@127.0.0.1:{phone_port}", attempts=1)
    assert {ref.kind for ref in supervisor.calls()} == {CallKind.MANAGER, CallKind.CALLBACK}
    assert manager.worker == phone.worker
    await supervisor.hangup(manager.call_id)
    await supervisor.hangup(phone.call_id)
    await handler.wait_for(lambda: supervisor.calls() == [])


@pytest.mark.integration
async def test_a_key_sent_as_sip_info_acknowledges_too(
    start_supervisor: StartSupervisor, sipp: RunSipp
) -> None:
    supervisor, _ = await start_supervisor()
    port = free_udp_port()
    peer = await sipp("uas_manager_info.xml", "", port=port, fill={"LISTEN": "1000", "KEY": "1"})
    speech = await synthesize("Alarm for agent seven.", "en")
    result = await prompt_for_key(
        supervisor, f"sip:manager@127.0.0.1:{port}", speech, "1", key_window=15
    )
    assert result == PromptResult(True, "pressed 1", "1")
    assert await peer.wait(10) == 0, peer.log()


@pytest.mark.integration
async def test_a_worker_dying_mid_prompt_ends_it_at_once(
    start_supervisor: StartSupervisor, sipp: RunSipp, tmp_path: Path
) -> None:
    supervisor, handler = await start_supervisor()
    port = free_udp_port()
    fill = {"LISTEN": "60000", "DTMF": dtmf_pcap("1", tmp_path), "EVENT_PT": str(EVENT_PT)}
    await sipp("uas_manager.xml", "", port=port, fill=fill)
    speech = await synthesize("Alarm for agent seven.", "en")
    prompt = asyncio.create_task(
        prompt_for_key(supervisor, f"sip:manager@127.0.0.1:{port}", speech, "1", alarm_id="A-9")
    )
    await handler.wait_for(lambda: len(handler.audio) == 1)  # answered: its audio flows
    pid = supervisor.worker_pid(0)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    async with asyncio.timeout(5):
        result = await prompt
    assert result == PromptResult(False, "hung up (503 SIP worker died)")
    (died,) = handler.of_type(WorkerDied)
    assert [ref.kind for ref in died.calls] == [CallKind.MANAGER]
    assert died.alarm_ids == frozenset()  # no phone to call back
    await handler.wait_for(lambda: len(handler.of_type(WorkerStarted)) == 2)
