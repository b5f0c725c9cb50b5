"""Run the real ``alarm-gateway`` command as a subprocess on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import free_port


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL if it has not exited 10 s later."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class GatewayProcess:
    """One gateway process with its own config and data directory."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    voice: bool = False
    """Start SIP and speech workers (SIP on ports the OS chooses); most tests need neither."""
    database_url: str = ""
    """The ``database_url`` fixture's URL; several processes given one URL share the database."""

    @property
    def config(self) -> Path:
        path = self.root / "gateway.toml"
        if not path.exists():
            path.write_text(
                f'[gateway]\ndata_dir = "{self.root / "data"}"\n'
                f'[http]\nhost = "127.0.0.1"\nport = {self.port}\n'
                f"[voice]\nenabled = {'true' if self.voice else 'false'}\n"
                f"[speech]\nenabled = {'true' if self.voice else 'false'}\n"
                "[sip]\nbase_port = 0\n"
                f'[database]\nurl = "{self.database_url}"\n'
            )
        return path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args, "--config", str(self.config)],
            input=stdin.encode(),
            capture_output=True,
            timeout=60,
            check=True,
        )
        return done.stdout.decode().strip()

    def start(self, within: float = 30) -> None:
        """Start it and wait until ``/healthz`` answers, at most ``within`` seconds."""
        with (self.root / "gateway.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "run", "--config", str(self.config)],
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited: {(self.root / 'gateway.log').read_text()}")
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"gateway did not become healthy in {within:.0f} s")

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up, like a power cut of the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        stop_process(self.process)

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=10) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")
