"""CPU and memory of the gateway's processes, read from /proc (Linux)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class ProcStat:
    pid: int
    role: str
    cpu_s: float
    rss_mib: float
    uss_mib: float


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (workers, the speech pool, their helpers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        todo += kids
    return found


def role(pid: int) -> str:
    """What a gateway process is, from its command line."""
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    if "gateway.sip.worker" in cmd:
        return "sip-worker"
    if "resource_tracker" in cmd:
        return "mp-resource-tracker"
    if "multiprocessing" in cmd:
        return "speech-worker"
    return "other"


def read(pid: int, role_name: str) -> ProcStat | None:
    """CPU seconds so far, RSS and USS (private pages) in MiB; None once it has exited."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    kib = {}
    for line in rollup.splitlines()[1:]:
        name, _, rest = line.partition(":")
        kib[name] = int(rest.split()[0])
    return ProcStat(
        pid,
        role_name,
        (int(fields[11]) + int(fields[12])) / _TICK,
        kib.get("Rss", 0) / 1024,
        (kib.get("Private_Clean", 0) + kib.get("Private_Dirty", 0)) / 1024,
    )


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])
