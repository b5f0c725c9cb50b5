"""Fuzz the HTTP API with schemathesis, driven by the gateway's own OpenAPI document.

A real gateway process (voice off) gets an admin and a phone; schemathesis then
runs its examples, coverage, fuzzing and stateful phases twice, once as the
admin's session and once as the phone's device token, each for half the time.
Checks: no server error (503, the documented answer of a switched-off
subsystem, aside), status codes, content types and bodies as the document says.
The gateway must still run at the end and its log hold no "unhandled error".

    .venv/bin/python -m bench.fuzz.api --minutes 10
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import Gateway
from bench.fuzz.common import arguments

CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)
EXCLUDED = "/api/v1/sessions/current"
"""Logging out would end the fuzzing identity's own session half-way."""
CONFIG = Path(__file__).with_name("schemathesis.toml")
PASSWORD = "a long fuzzing password"


@dataclass(frozen=True)
class Target:
    """A running gateway and the two identities the fuzzer uses."""

    url: str
    admin: str
    device: str
    log: Path
    process: subprocess.Popen[bytes]

    def unhandled(self) -> int:
        """Requests the error middleware had to answer with a 500."""
        return self.log.read_text(errors="replace").count("unhandled error")


def login(url: str, name: str, password: str) -> str:
    body = json.dumps({"name": name, "password": password}).encode()
    request = urllib.request.Request(f"{url}/api/v1/sessions", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(json.loads(answer.read())["token"])


def wait_healthy(url: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextmanager
def gateway(root: Path) -> Iterator[Target]:
    """A gateway process (voice and speech off) with an admin and a phone."""
    bench = Gateway(root, "normal")
    with bench.config.open("a") as config:
        config.write("[voice]\nenabled = false\n[speech]\nenabled = false\n")
    device = bench.cli("device", "add", "fuzz-phone")
    subprocess.run(
        [sys.executable, "-m", "gateway.cli", "user", "add", "fuzz-admin", "--role", "admin",
         "--password-stdin", "--config", str(bench.config)],
        input=f"{PASSWORD}\n".encode(), check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    log = root / "gateway.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "--config", str(bench.config)],
            stdout=out, stderr=out,
        )  # fmt: skip
    url = f"http://127.0.0.1:{bench.port}"
    try:
        wait_healthy(url)
        yield Target(url, login(url, "fuzz-admin", PASSWORD), device, log, process)
    finally:
        process.terminate()
        process.wait(timeout=20)


def schemathesis(url: str, token: str, seconds: int, *extra: str) -> tuple[int, str]:
    """One schemathesis run; returns its exit code and its output."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(CONFIG),
         "--no-color", "run", f"{url}/api/openapi.json", "--checks", CHECKS,
         "--max-time", str(seconds), "--workers", "1", "--exclude-path", EXCLUDED,
         "--header", f"Authorization: Bearer {token}", *extra],
        capture_output=True, text=True, timeout=seconds + 600,
    )  # fmt: skip
    return done.returncode, done.stdout


def figures(output: str) -> dict[str, int]:
    """Test cases, operations and failures from schemathesis' closing summary."""
    found: dict[str, int] = {}
    for key, pattern in (("test_cases", r"(\d+) generated"), ("failures", r"(\d+) unique failure"),
                         ("operations", r"(\d+) selected")):  # fmt: skip
        match = re.search(pattern, output)
        found[key] = int(match.group(1)) if match else 0
    return found


def main() -> None:
    args = arguments(__doc__ or "")
    half = max(1, int(args.minutes * 30))
    runs: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp, gateway(Path(tmp)) as target:
        for identity, token in (("admin", target.admin), ("device", target.device)):
            code, output = schemathesis(target.url, token, half)
            print(output, file=sys.stderr)
            runs[identity] = {"exit_code": code, **figures(output)}
        alive = target.process.poll() is None
        unhandled = target.unhandled()
    summary = {
        "parser": "api",
        "minutes": args.minutes,
        "runs": sum(int(str(r["test_cases"])) for r in runs.values()),
        "unhandled": unhandled,
        "gateway_alive_at_end": alive,
        "schemathesis": runs,
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.report is not None:
        args.report.write_text(text + "\n")
    failed = unhandled or not alive or any(r["exit_code"] for r in runs.values())
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
