"""Audio latency phone -> browser, end to end, bounded by a round trip measured at the phone.

A real phone (the phone simulator: its own pjsua2 process) raises an alarm and
calls the gateway, playing a 60 ms 1 kHz beep every second while recording what
it hears. An operator's browser (headless Chromium) accepts the alarm, opens the
WebRTC leg, switches to talk and sends back exactly the track it receives. So
every beep travels phone -> SIP worker -> gateway -> WebRTC -> browser (jitter
buffer) -> WebRTC -> gateway -> SIP worker -> phone, and the phone's recording
shows it one round trip after it was played. Both ends of the measure are in one
pjsua2 process with one clock (player and recorder start together when the
call is answered), and each one-way delay is less than the round trip.

    .venv/bin/python -m bench.phone_to_browser --beeps 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import aioice.ice
import numpy as np
from aiohttp import web
from playwright.async_api import async_playwright

from bench.common import free_port, machine, summary
from bench.webrtc_latency import FLAGS
from gateway.api.keys import STORE
from gateway.app import make_app
from gateway.auth import hash_password, token_hash
from gateway.config.schema import (
    DialplanSection,
    GatewaySection,
    RecordingSection,
    Settings,
    SpeechSection,
    VoiceSection,
)
from gateway.media.pcm import to_pcm
from gateway.sip.config import SipConfig
from gateway.store.records import Role

RATE = 16000
PHONE = "sip:bench-phone@127.0.0.1"
PAGE = """<!DOCTYPE html><meta charset="utf-8"><audio id="a" muted autoplay></audio><script>
window.onsets = [];
async function echo(alarmId, token) {
  const api = (method, path, body) => fetch(path, {method, body: JSON.stringify(body),
    headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"}});
  const pc = new RTCPeerConnection({iceServers: []});
  const transceiver = pc.addTransceiver("audio", {direction: "sendrecv"});
  pc.ontrack = (ev) => {  // say back what is heard, through WebAudio as a page would
    const stream = new MediaStream([ev.track]);
    document.getElementById("a").srcObject = stream;  // Chrome feeds WebAudio only then
    const ctx = new AudioContext();
    const back = ctx.createMediaStreamDestination();
    const source = ctx.createMediaStreamSource(stream);
    source.connect(back);
    transceiver.sender.replaceTrack(back.stream.getAudioTracks()[0]);
    const node = ctx.createScriptProcessor(256, 1, 1);  // onsets as the page hears them
    const mute = ctx.createGain();
    mute.gain.value = 0;
    let last = 0;
    node.onaudioprocess = (e) => {
      const now = Date.now();
      const x = e.inputBuffer.getChannelData(0);
      for (let i = 0; i < x.length; i++) {
        if (Math.abs(x[i]) > 0.1) {
          const at = now - (x.length - i) / ctx.sampleRate * 1000;
          if (at - last > 500) window.onsets.push(at);
          last = at;
          break;
        }
      }
    };
    source.connect(node);
    node.connect(mute).connect(ctx.destination);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((r) => { const c = () => pc.iceGatheringState === "complete" && r();
    pc.onicegatheringstatechange = c; c(); setTimeout(r, 2000); });
  const answer = await (await api("POST", `/api/v1/alarms/${alarmId}/audio/offer`,
    {type: "offer", sdp: pc.localDescription.sdp})).json();
  await pc.setRemoteDescription(answer);
  await api("POST", `/api/v1/alarms/${alarmId}/audio/mode`, {talk: true});
  window.pc = pc;
  return pc.connectionState;
}
</script>"""


def beeps_wav(path: Path, beeps: int) -> None:
    """A 60 ms 1 kHz beep at the start of every second, then 2 s of silence."""
    t = np.arange(RATE * (beeps + 2)) / RATE
    samples = np.where((t % 1.0 < 0.06) & (t < beeps), 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(to_pcm(samples))


def onsets(path: Path, threshold: float = 0.05) -> list[float]:
    """Seconds into the recording where each beep is first heard."""
    with wave.open(str(path)) as heard:
        rate = heard.getframerate()
        x = np.frombuffer(heard.readframes(heard.getnframes()), "<i2") / 32768.0
    loud = np.flatnonzero(np.abs(x) > threshold)
    found: list[float] = []
    for index in loud:
        at = index / rate
        if not found or at - found[-1] > 0.5:
            found.append(at)
    return found


async def run(beeps: int, root: Path) -> dict[str, Any]:
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    port = free_port()
    settings = Settings(
        gateway=GatewaySection(data_dir=root / "data", public_url=f"http://127.0.0.1:{port}"),
        voice=VoiceSection(enabled=True),
        sip=SipConfig(workers=1, base_port=0, rtp_base_port=32000),
        speech=SpeechSection(enabled=False),
        dialplan=DialplanSection(enabled=False),
        recording=RecordingSection(enabled=False),
    )
    app = make_app(settings)

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/bench", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    store = app[STORE]
    now = datetime.now(UTC)
    await store.add_device("bench-phone", token_hash("phone-token"), now, sip_uri=PHONE)
    await store.add_user("ana", Role.OPERATOR, hash_password("not used here"), now)
    ana = await store.user_by_name("ana")
    assert ana is not None
    await store.add_session(token_hash("ana-session"), ana.id, now, now + timedelta(hours=1))
    played, heard = root / "beeps.wav", root / "heard.wav"
    beeps_wav(played, beeps)
    phone = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "phone", "raise", "--url", url,
        "--token", "phone-token", "--type", "sos", "--sip-uri", PHONE, "--wav", str(played),
        "--record", str(heard), "--hold", "1", "--rtp-port", "33000",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert phone.stdout is not None
    alarm_id, answered_at = "", 0.0
    while not answered_at:  # the player starts as the call is answered
        line = (await phone.stdout.readline()).decode()
        if not line:
            raise RuntimeError("the phone exited before its call was answered")
        if match := re.search(r"alarm (\w+) raised", line):
            alarm_id = match[1]
        if "call answered" in line:
            answered_at = time.time() * 1000
    staff = {"Authorization": "Bearer ana-session"}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.post(f"{url}/api/v1/alarms/{alarm_id}/accept", headers=staff) as accepted,
            ):
                assert accepted.status == 200, await accepted.text()
            context = await browser.new_context()
            tab = await context.new_page()
            await tab.goto(f"{url}/bench")
            state = await tab.evaluate("([a, t]) => echo(a, t)", [alarm_id, "ana-session"])
            await phone.wait()
            heard_in_page: list[float] = await tab.evaluate("window.onsets")
        finally:
            await browser.close()
    await runner.cleanup()
    sent, back = onsets(played), onsets(heard)
    # a beep leaves the phone on each whole second after the answer; < 1 s latency
    one_way = [(at - answered_at) % 1000.0 for at in heard_in_page]
    round_trips = [
        (b - s) * 1000
        for s in sent
        for b in back
        if 0 < b - s < 0.9  # one beep per second
    ]
    return {
        "machine": machine(),
        "webrtc_state_at_start": state,
        "beeps_played": len(sent),
        "beeps_heard_in_browser": len(one_way),
        "phone_to_browser_ms": summary(one_way) if one_way else None,
        "beeps_heard_back_at_phone": len(round_trips),
        "round_trip_ms": summary(round_trips) if round_trips else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beeps", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(args.beeps, Path(tmp))), indent=2))


if __name__ == "__main__":
    main()
