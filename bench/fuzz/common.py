"""What the fuzzers share: a time-boxed atheris loop that tells refusals from crashes.

A parser facing the outside may refuse bad input only with its documented error
types. Anything else escaping it is a finding: it is recorded (type, where it was
raised, the smallest input seen) and the run goes on, so one run reports every
distinct crash instead of stopping at the first. The summary is one JSON object
on stdout (and in ``--report`` when given).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import CodeType

import atheris

Target = Callable[[bytes], None]


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to fuzz")
    parser.add_argument("--report", type=Path, help="also write the JSON summary here")
    return parser.parse_args()


@dataclass
class Finding:
    """One distinct unhandled exception: its type, where it was raised, a small input."""

    type: str
    message: str
    where: str
    input_hex: str
    count: int = 1


@dataclass
class Tally:
    parser: str
    minutes: float
    started: float = 0.0
    """Monotonic time of the first input."""
    runs: int = 0
    refused: int = 0
    """Inputs refused with a documented error."""
    findings: dict[str, Finding] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        return {
            "parser": self.parser,
            "minutes": self.minutes,
            "seconds_fuzzed": round(time.monotonic() - self.started),
            "runs": self.runs,
            "refused": self.refused,
            "unhandled": sum(f.count for f in self.findings.values()),
            "findings": [asdict(f) for f in self.findings.values()],
        }


def record(tally: Tally, exc: Exception, data: bytes) -> None:
    """Count a crash; keep the shortest input per (type, raising line)."""
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    where = f"{Path(frame.filename).name}:{frame.lineno} {frame.name}"
    key = f"{type(exc).__name__} at {where}"
    found = tally.findings.get(key)
    if found is None:
        tally.findings[key] = Finding(type(exc).__name__, str(exc)[:300], where, data.hex())
        print(f"FINDING {key}: {str(exc)[:200]!r} input={data[:200]!r}", file=sys.stderr)
        return
    found.count += 1
    if len(data) * 2 < len(found.input_hex):
        found.input_hex = data.hex()


def finish(tally: Tally, report: Path | None) -> None:
    text = json.dumps(tally.summary(), indent=2)
    print(text, flush=True)
    if report is not None:
        report.write_text(text + "\n")


def instrument(prefixes: tuple[str, ...]) -> None:
    """Coverage feedback for the modules under test only: all of them takes minutes."""
    for obj in gc.get_objects():
        module = getattr(obj, "__module__", None)
        code = getattr(obj, "__code__", None)
        ours = isinstance(module, str) and module.startswith(prefixes) and callable(obj)
        if ours and isinstance(code, CodeType) and code.co_filename.endswith(".py"):  # no Cython
            atheris.instrument_func(obj)


def fuzz(
    name: str,
    target: Target,
    refusals: tuple[type[Exception], ...],
    seeds: Iterable[bytes],
    args: argparse.Namespace,
    instrumented: tuple[str, ...] = ("gateway.",),
) -> None:
    """Run ``target`` on mutated inputs for ``args.minutes``, then print the summary."""
    tally = Tally(name, args.minutes)
    deadline = 0.0

    def one(data: bytes) -> None:
        nonlocal deadline
        if not deadline:  # the clock starts with the first input, after the set-up
            tally.started = time.monotonic()
            deadline = tally.started + args.minutes * 60
        elif time.monotonic() > deadline:
            finish(tally, args.report)
            sys.stdout.flush()
            os._exit(1 if tally.findings else 0)  # libFuzzer offers no clean way out
        tally.runs += 1
        try:
            target(data)
        except refusals:
            tally.refused += 1
        except Exception as exc:  # a finding, not a failure of the run
            record(tally, exc, data)

    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    for index, seed in enumerate(seeds):
        (corpus / f"seed-{index}").write_bytes(seed)
    instrument(instrumented)
    atheris.Setup(
        [sys.argv[0], str(corpus), "-timeout=20", "-rss_limit_mb=3072", "-print_final_stats=0"],
        one,
    )
    atheris.Fuzz()
