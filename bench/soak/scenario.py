"""One soak run: a real gateway, its DC-09 receiver, and the load that drives them.

Load, all at once for the whole run:
- alarms posted at a steady rate with device tokens (open loop), each accepted
  by the operator about a second later and closed a few seconds after;
- ``calls`` concurrent sipp phone calls, each with its own alarm (X-Alarm-Id),
  streaming a distress clip in a loop through the SIP workers and the speech
  worker; the operator closes the alarm shortly before the phone hangs up and
  a new call takes the slot;
- ``listeners`` aiortc operators listening to calls over WebRTC;
- an operator session on the live event stream (cue arrival times).

Every ``sample_s`` the CPU and memory of the gateway, each SIP and speech
worker, the receiver and this driver are read from /proc. At the end the
gateway is stopped and its database compared with what was posted and what
the receiver acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.common import free_port
from bench.soak import phone, procs
from bench.soak.listener import Heard, listen, loopback_only
from gateway.config.schema import bundled_dialplans

OPERATOR = "operator1"
PASSWORD = "soak-operator-password"
ALARM = {
    "type": "sos",
    "occurred_at": "2026-12-04T10:00:00Z",
    "location": {"lat": 48.8566, "lon": 2.3522, "accuracy_m": 12},
    "battery_pct": 80,
}


@dataclass(frozen=True)
class Options:
    minutes: float
    alarm_rate: float
    calls: int
    call_s: float
    listeners: int
    sip_workers: int
    sample_s: float
    devices: int
    workdir: Path
    hold_s: tuple[float, float] = (4.0, 12.0)
    """How long the operator keeps a call-less alarm open (uniform)."""


@dataclass
class Posted:
    alarm_id: str
    accepted_at: float
    """Wall clock when the 201 arrived."""
    latency_ms: float
    """From the scheduled send time (open loop) to the 201."""
    with_call: bool


@dataclass
class CallRun:
    alarm_id: str
    started_at: float
    exit_code: int | None = None


@dataclass
class Tally:
    """Everything observed while the load runs."""

    posted: list[Posted] = field(default_factory=list)
    http_errors: Counter[str] = field(default_factory=Counter)
    calls: list[CallRun] = field(default_factory=list)
    heard: list[Heard] = field(default_factory=list)
    cues: dict[str, float] = field(default_factory=dict)
    """Alarm id -> wall clock of its first cue on the event stream."""
    stream_messages: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)


class Soak:
    def __init__(self, options: Options) -> None:
        self.o = options
        self.root = options.workdir
        self.port = free_port()
        self.sip_base = free_port()
        self.dc09_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.tally = Tally()
        self.gateway: subprocess.Popen[bytes] | None = None
        self.receiver: subprocess.Popen[bytes] | None = None
        self.tokens: list[str] = []
        self.listen_queue: asyncio.Queue[tuple[str, asyncio.Event]] = asyncio.Queue()
        self.stopping = asyncio.Event()
        self.clip: phone.Clip | None = None

    # --- set-up --------------------------------------------------------------------------

    @property
    def config(self) -> Path:
        return self.root / "soak.toml"

    def _write_dialplan(self) -> Path:
        """The bundled dialplan without its example manager contacts and desk phone: their
        hosts (example.org) do not resolve here, and every closure would ring them."""
        plan = yaml.safe_load((bundled_dialplans() / "default.yaml").read_text())
        for route in plan["routes"]:
            route.pop("triggers", None)
        for group in plan["operator_groups"].values():
            group["members"] = [m for m in group["members"] if ":" not in m]
        folder = self.root / "dialplans"
        folder.mkdir(exist_ok=True)
        (folder / "default.yaml").write_text(yaml.safe_dump(plan))
        return folder

    def _write_config(self) -> None:
        rtp = random.randrange(20000, 30000, 2)
        self.config.write_text(
            f'[gateway]\ndata_dir = "{self.root / "data"}"\n'
            f'[http]\nhost = "127.0.0.1"\nport = {self.port}\n'
            f"[sip]\nworkers = {self.o.sip_workers}\nbase_port = {self.sip_base}\n"
            f"rtp_base_port = {rtp}\nrtp_ports_per_worker = 40\n"
            f'[dialplan]\ndirectory = "{self._write_dialplan()}"\n'
            f'[dc09]\naccount = "1234"\n'
            f'[[dc09.receivers]]\nhost = "127.0.0.1"\nport = {self.dc09_port}\n'
            '[log]\nlevel = "info"\nformat = "json"\n'
        )

    def _cli(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args, "--config", str(self.config)],
            input=stdin.encode(),
            capture_output=True,
            check=True,
            timeout=120,
        )
        return done.stdout.decode().strip()

    def set_up(self) -> None:
        """Clip, receiver, configuration, operator, devices, gateway: blocking, in order."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.clip = phone.make_clip(self.root)
        self.receiver = subprocess.Popen(
            [sys.executable, "-m", "bench.soak.receiver", "--port", str(self.dc09_port),
             "--out", str(self.root / "received.jsonl")],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        assert self.receiver.stdout is not None
        if self.receiver.stdout.readline().strip() != b"ready":
            raise RuntimeError("the DC-09 receiver did not start")
        self._write_config()
        self._cli("user", "add", OPERATOR, "--role", "operator", "--password-stdin", stdin=PASSWORD)
        self.tokens = [self._cli("device", "add", f"soak-{n}") for n in range(self.o.devices)]
        with (self.root / "gateway.log").open("ab") as log:
            self.gateway = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "run", "--config", str(self.config)],
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.gateway.poll() is not None:
                raise RuntimeError(f"the gateway exited; see {self.root / 'gateway.log'}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError("the gateway did not become healthy in 90 s")

    def stop_processes(self) -> None:
        for process in (self.gateway, self.receiver):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
        if self.receiver is not None and self.receiver.stdout is not None:
            self.receiver.stdout.close()

    # --- the load ------------------------------------------------------------------------

    async def _post(self, session: aiohttp.ClientSession, what: str, path: str,
                    token: str, body: Any = None) -> tuple[int, Any]:  # fmt: skip
        """One request; a non-2xx answer or a transport error is counted under ``what``."""
        try:
            async with session.post(
                self.base + path, json=body, headers={"Authorization": f"Bearer {token}"}
            ) as answer:
                data = await answer.json(content_type=None)
                if answer.status >= 300:
                    self.tally.http_errors[f"{what} {answer.status}"] += 1
                return answer.status, data
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.tally.http_errors[f"{what} {type(exc).__name__}"] += 1
            return 0, None

    async def _raise(
        self, session: aiohttp.ClientSession, n: int, scheduled: float, with_call: bool
    ) -> str | None:
        token = self.tokens[n % len(self.tokens)]
        status, data = await self._post(session, "alarm", "/api/v1/alarms", token, ALARM)
        now = time.time()
        if status != 201:
            return None
        latency = (time.perf_counter() - scheduled) * 1000
        self.tally.posted.append(Posted(data["id"], now, latency, with_call))
        return str(data["id"])

    async def _handle(
        self, session: aiohttp.ClientSession, op: str, alarm_id: str, hold_s: float
    ) -> None:
        """The operator: accepts after a second, closes ``hold_s`` later."""
        await asyncio.sleep(1.0)
        await self._post(session, "accept", f"/api/v1/alarms/{alarm_id}/accept", op)
        await asyncio.sleep(hold_s)
        body = {"outcome": "false_alarm"}
        await self._post(session, "close", f"/api/v1/alarms/{alarm_id}/close", op, body)

    async def alarms(self, session: aiohttp.ClientSession, op: str, seconds: float) -> None:
        """Open loop: alarm n is sent at start + n / rate whatever happened before."""
        handlers: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        n = 0
        while (scheduled := start + n / self.o.alarm_rate) < start + seconds:
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            alarm_id = await self._raise(session, n, scheduled, with_call=False)
            if alarm_id is not None:
                hold = random.uniform(*self.o.hold_s)
                task = asyncio.create_task(self._handle(session, op, alarm_id, hold))
                handlers.add(task)
                task.add_done_callback(handlers.discard)
            n += 1
        await asyncio.gather(*handlers)

    async def phone_slot(
        self, session: aiohttp.ClientSession, op: str, slot: int, seconds: float
    ) -> None:
        """One phone after another, each raising its alarm and calling for ``call_s``."""
        assert self.clip is not None
        scenario = phone.scenario(self.root, self.clip, self.o.call_s)
        await asyncio.sleep(slot * self.o.call_s / max(1, self.o.calls))
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            alarm_id = await self._raise(session, 100000 + slot, time.perf_counter(), True)
            if alarm_id is None:
                await asyncio.sleep(1.0)
                continue
            await self._post(session, "accept", f"/api/v1/alarms/{alarm_id}/accept", op)
            closed = asyncio.Event()
            run = CallRun(alarm_id, time.time())
            self.tally.calls.append(run)
            worker_port = self.sip_base + (slot + n) % self.o.sip_workers
            log = self.root / f"sipp-{slot}.log"
            call = asyncio.create_task(phone.call(scenario, worker_port, alarm_id, log))
            await asyncio.sleep(3.0)
            self.listen_queue.put_nowait((alarm_id, closed))
            await asyncio.sleep(max(0.0, self.o.call_s - 8.0))
            body = {"outcome": "agent_safe"}
            await self._post(session, "close", f"/api/v1/alarms/{alarm_id}/close", op, body)
            closed.set()
            run.exit_code = await call
            n += 1

    async def listener(self, session: aiohttp.ClientSession, op: str) -> None:
        while True:
            alarm_id, closed = await self.listen_queue.get()
            if closed.is_set():
                continue
            self.tally.heard.append(await listen(session, self.base, op, alarm_id, closed))

    async def event_stream(self, session: aiohttp.ClientSession, op: str) -> None:
        """The operator's live stream: when each alarm's first cue arrives."""
        headers = {"Authorization": f"Bearer {op}"}
        async with session.ws_connect(f"{self.base}/api/v1/events", headers=headers) as ws:
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(message.data)
                kind = str(data.get("type"))
                self.tally.stream_messages[kind] += 1
                if kind == "cue" and data.get("alarm_id") not in self.tally.cues:
                    self.tally.cues[str(data["alarm_id"])] = time.time()

    async def sampler(self, started: float) -> None:
        """CPU and memory of every process involved, every ``sample_s``."""
        assert self.gateway is not None and self.receiver is not None
        while True:
            pids = {self.gateway.pid: "gateway", self.receiver.pid: "receiver"}
            pids[os.getpid()] = "driver"
            for child in procs.children(self.gateway.pid):
                name = procs.role(child)
                if name != "other":
                    pids[child] = name
            stats = [s for pid, name in pids.items() if (s := procs.read(pid, name)) is not None]
            self.tally.samples.append({
                "t": time.monotonic() - started,
                "load": procs.load_average(),
                "procs": [vars_of(s) for s in stats],
            })  # fmt: skip
            await asyncio.sleep(self.o.sample_s)

    async def drain(self, session: aiohttp.ClientSession) -> str:
        """Wait (at most 120 s) until the outbox has nothing pending; the final metrics."""
        text = ""
        for _ in range(240):
            async with session.get(f"{self.base}/metrics") as answer:
                text = await answer.text()
            pending = re.search(r'gateway_outbox_pending\{sink="dc09"\} (\S+)', text)
            if pending is not None and float(pending.group(1)) == 0:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # the receiver writes each line as it acknowledges
        return text

    async def load(self) -> str:
        """Run the load for the configured minutes; the gateway's final /metrics text."""
        loopback_only()
        seconds = self.o.minutes * 60
        started = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=30)
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            login = {"name": OPERATOR, "password": PASSWORD}
            async with session.post(f"{self.base}/api/v1/sessions", json=login) as answer:
                op = str((await answer.json())["token"])
            background = [
                asyncio.create_task(self.sampler(started)),
                asyncio.create_task(self.event_stream(session, op)),
                *(asyncio.create_task(self.listener(session, op)) for _ in range(self.o.listeners)),
            ]
            await asyncio.gather(
                self.alarms(session, op, seconds),
                *(self.phone_slot(session, op, s, seconds) for s in range(self.o.calls)),
            )
            metrics = await self.drain(session)
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
        return metrics


def vars_of(stat: procs.ProcStat) -> dict[str, Any]:
    return {"pid": stat.pid, "role": stat.role, "cpu_s": stat.cpu_s,
            "rss_mib": round(stat.rss_mib, 2), "uss_mib": round(stat.uss_mib, 2)}  # fmt: skip
