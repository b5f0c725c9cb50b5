"""``alarm-gateway demo``: the gateway with its embedded defaults, a demo operator and
supervisor, and a simulated phone that raises a fall alarm and speaks.

Everything lives in ``<data_dir>/demo``, emptied at each start, so a demo never
mixes with real alarms.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
from datetime import UTC, datetime
from typing import TextIO

from aiohttp import web

from gateway.api.keys import STORE
from gateway.app import make_app
from gateway.auth import hash_password, token_hash
from gateway.config.schema import GatewaySection, Settings
from gateway.ids import new_secret
from gateway.store.records import Role

DEMO_PHONE = "sip:demo-phone@127.0.0.1"
SPEECH = "Help! I have fallen down the stairs in the archive room and I cannot get up."
# the bundled dialplan offers alarms to its "duty" group: operator1 and operator2
OPERATOR, SUPERVISOR = "operator1", "supervisor1"


async def run_demo(settings: Settings, *, every_s: float | None, out: TextIO = sys.stdout) -> None:
    """Serve until interrupted; a phone raises an alarm at once (then every ``every_s``)."""
    data_dir = settings.gateway.data_dir / "demo"
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = settings.model_copy(
        update={
            "gateway": GatewaySection(data_dir=data_dir, public_url=settings.gateway.public_url)
        }
    )
    app = make_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.http.host, settings.http.port)
    await site.start()
    url = f"http://{settings.http.host}:{settings.http.port}"
    password = new_secret()[:12]
    token = new_secret()
    store = app[STORE]
    now = datetime.now(UTC)
    for name, role in ((OPERATOR, Role.OPERATOR), (SUPERVISOR, Role.SUPERVISOR)):
        await store.add_user(name, role, hash_password(password), now)
    await store.add_device(
        "demo-phone", token_hash(token), now, sip_uri=DEMO_PHONE, label="Demo agent"
    )
    print(
        f"alarm-gateway demo\n  console:    {url}/console\n  review:     {url}/review\n"
        f"  operator:   {OPERATOR} / {password}\n  supervisor: {SUPERVISOR} / {password}\n"
        "A simulated phone raises a fall alarm and speaks; Ctrl-C stops the demo.",
        file=out,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    phones: list[asyncio.subprocess.Process] = []
    try:
        while not stop.is_set():
            phones.append(await _phone(url, token))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
    finally:
        for phone in phones:
            if phone.returncode is None:
                phone.terminate()
                await phone.wait()
        await runner.cleanup()


async def _phone(url: str, token: str) -> asyncio.subprocess.Process:
    """The phone simulator, as its own process (pjsua2 never runs beside alarm state)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "phone", "raise", "--url", url, "--token", token,
        "--type", "fall", "--lat", "48.8566", "--lon", "2.3522", "--accuracy", "15",
        "--battery", "64", "--sip-uri", DEMO_PHONE, "--say", SPEECH, "--hold", "30",
    )  # fmt: skip
