"""What the benchmarks share: a real gateway process, free ports, latency summaries."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def summary(latencies_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies_ms, 50), 2),
        "p99_ms": round(percentile(latencies_ms, 99), 2),
        "max_ms": round(max(latencies_ms), 2),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Gateway:
    def __init__(self, root: Path, synchronous: str) -> None:
        self.port = free_port()
        self.config = root / "bench.toml"
        self.config.write_text(
            f'[gateway]\ndata_dir = "{root / "data"}"\n'
            f'[http]\nport = {self.port}\n[database]\nsqlite_synchronous = "{synchronous}"\n'
            '[log]\nlevel = "warning"\n'
            "[sip]\nbase_port = 0\n"  # the workers run, as in production, on free ports
        )
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args, "--config", str(self.config)],
            capture_output=True,
            check=True,
            timeout=60,
        )
        return out.stdout.decode().strip()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "--config", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("gateway did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)
