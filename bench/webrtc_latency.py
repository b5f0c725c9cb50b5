"""Audio latency from the gateway's PCM source to a browser, over WebRTC on loopback.

A beep (60 ms of 1 kHz) is fed into an AudioHub leg every 500 ms, exactly as
the SIP side feeds caller audio (16 kHz, 20 ms frames, real-time pace). Headless
Chromium receives the leg and timestamps each beep's onset at the input of its
WebAudio graph (after the network, the opus decoder and the jitter buffer; the
sound card's output buffer is not included). Both clocks are the same machine's.

    .venv/bin/python bench/webrtc_latency.py --beeps 40
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import socket
import statistics
import time
from typing import Any

import aioice.ice
import numpy as np
from aiohttp import web
from playwright.async_api import async_playwright

from gateway.media.pcm import to_pcm
from gateway.webrtc.leg import AudioHub

RATE = 16000
PAGE = """<!DOCTYPE html><meta charset="utf-8"><audio id="a" muted autoplay></audio><script>
window.onsets = [];
async function start() {
  const pc = new RTCPeerConnection({iceServers: []});
  window.pc = pc;
  pc.addTransceiver("audio", {direction: "recvonly"});
  pc.ontrack = (ev) => {
    const stream = new MediaStream([ev.track]);
    document.getElementById("a").srcObject = stream;  // Chrome feeds WebAudio only then
    const ctx = new AudioContext();
    const node = ctx.createScriptProcessor(256, 1, 1);
    const mute = ctx.createGain();
    mute.gain.value = 0;
    let last = 0;
    node.onaudioprocess = (e) => {
      const now = Date.now();
      const x = e.inputBuffer.getChannelData(0);
      for (let i = 0; i < x.length; i++) {
        if (Math.abs(x[i]) > 0.1) {
          const at = now - (x.length - i) / ctx.sampleRate * 1000;
          if (at - last > 250) window.onsets.push(at);
          last = at;
          break;
        }
      }
    };
    ctx.createMediaStreamSource(stream).connect(node);
    node.connect(mute).connect(ctx.destination);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((r) => { const c = () => pc.iceGatheringState === "complete" && r();
    pc.onicegatheringstatechange = c; c(); setTimeout(r, 2000); });
  const resp = await fetch("/offer", {method: "POST", body: pc.localDescription.sdp});
  await pc.setRemoteDescription({type: "answer", sdp: await resp.text()});
}
start();
</script>"""
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def beep_frames(period_s: float) -> list[bytes]:
    """One period: 60 ms of 1 kHz, then silence, in 20 ms frames."""
    t = np.arange(int(RATE * period_s)) / RATE
    samples = np.where(t < 0.06, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0)
    step = RATE // 50
    return [to_pcm(samples[i : i + step]) for i in range(0, len(samples), step)]


async def run(beeps: int, period_s: float) -> dict[str, Any]:
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    hub = AudioHub()

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def offer(request: web.Request) -> web.Response:
        return web.Response(text=await hub.open_leg("bench", "bench", await request.text()))

    app = web.Application()
    app.add_routes([web.get("/", page), web.post("/offer", offer)])
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    sent: list[float] = []
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page_ = await browser.new_page()
            await page_.goto(f"http://127.0.0.1:{port}/")
            for _ in range(200):
                leg = hub.leg("bench", "bench")
                if leg is not None and leg.pc.connectionState == "connected":
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the browser did not connect")
            frames = beep_frames(period_s)
            await asyncio.sleep(1.0)  # let the jitter buffer settle on silence
            started = time.monotonic()
            for n in range(beeps * len(frames)):
                if n % len(frames) == 0:
                    sent.append(time.time() * 1000)
                hub.feed("bench", frames[n % len(frames)], RATE)
                await asyncio.sleep(max(0.0, started + (n + 1) * 0.02 - time.monotonic()))
            await asyncio.sleep(1.0)
            onsets: list[float] = await page_.evaluate("window.onsets")
            stats = await page_.evaluate(
                """async () => { let out = {};
                (await window.pc.getStats()).forEach((r) => {
                  if (r.type === "inbound-rtp" && r.kind === "audio") out = r; });
                return out; }"""
            )
            await browser.close()
    finally:
        await hub.close()
        await runner.cleanup()
    latencies = []
    for at in sent:  # match each beep with the first onset after it
        later = [o - at for o in onsets if 0 <= o - at < period_s * 1000]
        if later:
            latencies.append(min(later))
    emitted = stats.get("jitterBufferEmittedCount") or 1
    return {
        "beeps_sent": len(sent),
        "beeps_heard": len(latencies),
        "latency_ms_p50": statistics.median(latencies),
        "latency_ms_p95": sorted(latencies)[int(0.95 * (len(latencies) - 1))],
        "latency_ms_max": max(latencies),
        "jitter_buffer_ms_mean": 1000 * stats.get("jitterBufferDelay", 0) / emitted,
        "codec": "opus 48 kHz",
        "machine": f"{platform.machine()} {platform.python_version()}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beeps", type=int, default=40)
    parser.add_argument("--period", type=float, default=0.5, help="seconds between beeps")
    args = parser.parse_args()
    for key, value in asyncio.run(run(args.beeps, args.period)).items():
        print(f"{key}: {value:.1f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
