"""The example scripts, run as a user would: receiver and sender as processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
KEY = "0123456789ABCDEF"


def example(name: str) -> list[str]:
    return [sys.executable, str(EXAMPLES / name)]


@pytest.fixture
def receiver() -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [*example("receive_dc09.py"), "--port", str(port), "--account", f"1234:{KEY}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("listening on tcp")
        yield port, process
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_sender_example_reaches_receiver_example(
    receiver: tuple[int, subprocess.Popen[str]],
) -> None:
    port, process = receiver
    sent = subprocess.run(
        [
            *example("send_dc09.py"),
            *("--port", str(port), "--account", "1234", "--key", KEY),
            *("--alarm-type", "fall", "--lat", "48.85837", "--lon", "2.294481", "--count", "2"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.count("acknowledged in") == 2
    process.terminate()
    output, _ = process.communicate(timeout=10)
    lines = [line for line in output.splitlines() if line.startswith("*SIA-DCS")]
    assert len(lines) == 2
    assert "account=1234 code=QA" in lines[0]
    assert "X='2.294481' Y='48.858370' I='fall detected'" in lines[0]


def test_sender_example_reports_failure(receiver: tuple[int, subprocess.Popen[str]]) -> None:
    port, _ = receiver
    sent = subprocess.run(
        [*example("send_dc09.py"), "--port", str(port), "--account", "999", "--timeout", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 1
    assert sent.stdout.startswith("not delivered: no receiver acknowledged after 3 tries")
