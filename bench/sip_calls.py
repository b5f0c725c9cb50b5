"""Benchmark concurrent tapped calls through the SIP workers on this machine.

A peer supervisor (its own pjsua2 workers) plays the phones and the operator
stations. Each phone calls the gateway, which answers, taps the caller's audio to
the main process and joins an operator leg in LISTEN mode: every phone call thus
occupies two gateway calls. Phones send a 20 ms tone pulse every 500 ms; the
peer timestamps each pulse when it is handed over and again when it reaches the
operator station, so the phone -> operator delay is measured on one clock. A few
direct peer-to-peer calls (no gateway) run alongside as the baseline, and the
gateway's added latency is the difference. CPU and memory are read from /proc
for the gateway's worker processes only.

    .venv/bin/python bench/sip_calls.py --phones 8 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from gateway.media.pcm import frame_bytes, to_pcm, to_samples
from gateway.sip.bridge import LegMode
from gateway.sip.config import MAX_CALLS_PER_WORKER, SipConfig
from gateway.sip.events import Answer, CallConnected, CallDecision, CallEvent, CallKind
from gateway.sip.messages import IncomingCall
from gateway.sip.supervisor import SipSupervisor

RATE = 16000
FRAME = frame_bytes(RATE)
PULSE_EVERY = 25  # frames: one pulse per 500 ms
PULSE = to_pcm(0.3 * np.sin(2 * np.pi * 1000 * np.arange(FRAME // 2) / RATE))
SILENCE = bytes(FRAME)
THRESHOLD = 0.05


@dataclass
class Gateway:
    """The main process's side: answers every call and counts tapped frames."""

    frames: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    phones: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    """Phone calls as they connect."""

    async def on_incoming(self, call: IncomingCall) -> CallDecision:
        return Answer(call.alarm_id or "bench")

    def on_call_event(self, event: CallEvent) -> None:
        if isinstance(event, CallConnected) and event.call.kind is CallKind.INCOMING:
            self.phones.put_nowait(event.call.call_id)

    def on_audio(self, call_id: str, pcm: bytes, rate: int) -> None:
        self.frames[call_id] += 1


@dataclass
class Peer:
    """Phones and operator stations: answers everything, detects pulse arrivals."""

    incoming: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    arrivals: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    _loud: dict[str, bool] = field(default_factory=dict)

    async def on_incoming(self, call: IncomingCall) -> CallDecision:
        self.incoming.put_nowait(call.call_id)
        return Answer("peer")

    def on_call_event(self, event: CallEvent) -> None:
        pass

    def on_audio(self, call_id: str, pcm: bytes, rate: int) -> None:
        loud = float(np.sqrt(np.mean(to_samples(pcm) ** 2))) > THRESHOLD
        if loud and not self._loud.get(call_id):
            self.arrivals[call_id].append(time.monotonic())
        self._loud[call_id] = loud


async def pulses(peer: SipSupervisor, call_id: str, seconds: float, sent: list[float]) -> None:
    """Send 20 ms frames in real time; a tone pulse every 500 ms, its send time recorded."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index in range(int(seconds * 50)):
        pulse = index % PULSE_EVERY == PULSE_EVERY // 2
        if pulse:
            sent.append(time.monotonic())
        peer.send_audio(call_id, PULSE if pulse else SILENCE, RATE)
        await asyncio.sleep(max(0.0, start + (index + 1) * 0.02 - loop.time()))


def delays(sent: list[float], arrived: list[float]) -> list[float]:
    """Pair each pulse with the first arrival after it (within 400 ms)."""
    out = []
    for time_sent in sent:
        after = [a - time_sent for a in arrived if 0 <= a - time_sent < 0.4]
        if after:
            out.append(after[0])
    return out


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def run(phones: int, seconds: float, baseline_calls: int) -> None:
    workers = -(-phones * 2 // MAX_CALLS_PER_WORKER)
    gateway_handler, peer_handler = Gateway(), Peer()
    gateway = SipSupervisor(
        SipConfig(workers=workers, base_port=0, rtp_base_port=21000, rtp_ports_per_worker=40),
        gateway_handler,
    )
    peer_workers = -(-(phones * 2 + baseline_calls * 2) // MAX_CALLS_PER_WORKER) + 1
    peer = SipSupervisor(
        SipConfig(
            workers=peer_workers, base_port=0, rtp_base_port=24000, rtp_ports_per_worker=40,
            phone_slots=MAX_CALLS_PER_WORKER,
        ),
        peer_handler,
    )  # fmt: skip
    await asyncio.gather(gateway.start(), peer.start())
    try:
        gw_ports, peer_ports = gateway.worker_ports(), peer.worker_ports()
        pairs: list[tuple[str, str]] = []  # (peer phone call, peer station call)
        for index in range(phones):
            phone = await peer.callback(
                f"B{index}", f"sip:gw@127.0.0.1:{gw_ports[index // 2]}", attempts=1
            )
            gw_phone = await asyncio.wait_for(gateway_handler.phones.get(), 10)
            busy = [sum(1 for c in peer.calls() if c.worker == w) for w in range(peer_workers)]
            station_port = peer_ports[busy.index(min(busy))]
            await gateway.call_operator(
                gw_phone, f"sip:desk@127.0.0.1:{station_port}", LegMode.LISTEN
            )
            station = await asyncio.wait_for(peer_handler.incoming.get(), 10)
            pairs.append((phone.call_id, station))
        direct: list[tuple[str, str]] = []
        for _ in range(baseline_calls):
            busy = [sum(1 for c in peer.calls() if c.worker == w) for w in range(peer_workers)]
            target = peer_ports[busy.index(min(busy))]
            call = await peer.callback("direct", f"sip:desk@127.0.0.1:{target}", attempts=1)
            station = await asyncio.wait_for(peer_handler.incoming.get(), 10)
            direct.append((call.call_id, station))
        await asyncio.sleep(1.0)

        pids = [pid for w in range(workers) if (pid := gateway.worker_pid(w)) is not None]
        cpu_before = sum(cpu_seconds(p) for p in pids)
        frames_before = dict(gateway_handler.frames)
        sent: dict[str, list[float]] = defaultdict(list)
        started = time.monotonic()
        await asyncio.gather(
            *(pulses(peer, phone, seconds, sent[phone]) for phone, _ in pairs + direct)
        )
        elapsed = time.monotonic() - started
        cpu = sum(cpu_seconds(p) for p in pids) - cpu_before
        rss = [rss_mib(p) for p in pids]
        got = [gateway_handler.frames[c] - frames_before[c] for c in frames_before]
        await asyncio.sleep(0.5)  # let the last pulses arrive

        via_gateway = [d for ph, st in pairs for d in delays(sent[ph], peer_handler.arrivals[st])]
        baseline = [d for ph, st in direct for d in delays(sent[ph], peer_handler.arrivals[st])]
        expected_pulses = sum(len(sent[ph]) for ph, _ in pairs)
        tapped_expected = elapsed * 50
        gateway_calls = len(gateway.calls())

        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
        print(f"gateway: {workers} workers, {gateway_calls} calls ({phones} phones tapped "
              f"+ {phones} operator legs), {elapsed:.1f} s")  # fmt: skip
        print(f"tapped frames per call: min {min(got)}, max {max(got)}, "
              f"expected ~{tapped_expected:.0f} (calls tapped: {len(got)})")  # fmt: skip
        print(f"pulses phone->operator: {len(via_gateway)}/{expected_pulses} detected")
        print(f"phone->operator via gateway: median {percentile(via_gateway, 50) * 1000:.1f} ms, "
              f"p95 {percentile(via_gateway, 95) * 1000:.1f} ms")  # fmt: skip
        if baseline:
            added = statistics.median(via_gateway) - statistics.median(baseline)
            print(f"direct peer->peer baseline: median {percentile(baseline, 50) * 1000:.1f} ms, "
                  f"p95 {percentile(baseline, 95) * 1000:.1f} ms")  # fmt: skip
            print(f"added by the gateway (median difference): {added * 1000:.1f} ms")
        print(f"gateway workers CPU: {cpu / elapsed * 100:.1f} % of one core in total, "
              f"{cpu / elapsed * 100 / gateway_calls:.2f} % per call")  # fmt: skip
        print(f"gateway workers RSS: {sum(rss):.0f} MiB in total ({statistics.mean(rss):.0f} MiB "
              f"per worker, {sum(rss) / gateway_calls:.0f} MiB per call)")  # fmt: skip
    finally:
        await asyncio.gather(gateway.stop(), peer.stop())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=8, help="phone calls, each + 1 leg")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--baseline-calls", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(run(args.phones, args.seconds, args.baseline_calls))


if __name__ == "__main__":
    main()
