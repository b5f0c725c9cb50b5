"""After a soak run: compare the database, the receiver and the load; compute the figures."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench.common import machine
from bench.soak import figures, phone
from bench.soak.scenario import Soak
from gateway.dc09.mapping import load_mapping
from gateway.dc09.sender import sequence_of
from gateway.store.store import Store

RESTART = re.compile(r"restart|died|exited with|stopped answering", re.IGNORECASE)


async def database(soak: Soak) -> dict[str, Any]:
    """Alarms posted but absent, alarms left open, the outbox events DC-09 must carry,
    and when each call alarm's voice call connected (wall clock)."""
    url = f"sqlite:///{soak.root / 'data' / 'gateway.sqlite3'}"
    store = await Store.open(url, reference_base="http://127.0.0.1")
    try:
        absent, still_open, connected = [], 0, {}
        for posted in soak.tally.posted:
            alarm = await store.get_alarm(posted.alarm_id)
            if alarm is None:
                absent.append(posted.alarm_id)
                continue
            still_open += alarm.state.value != "closed"
            voice = [e.at for e in alarm.timeline if e.kind == "voice_connected"]
            if voice:
                connected[alarm.id] = voice[0].timestamp()
        mapping = load_mapping()
        expected: list[figures.Expected] = []
        last = 0
        while batch := await store.outbox_after(last, 500):
            for event in batch:
                if mapping.entry_for(event) is not None:
                    expected.append(figures.Expected(event.id, event.alarm_id, sequence_of(event)))
            last = batch[-1].id
        dead = await store.dead_letters("dc09")
    finally:
        await store.close()
    return {
        "absent": absent,
        "still_open": still_open,
        "connected": connected,
        "expected": expected,
        "dead_letters": len(dead),
    }


def received(path: Path) -> list[figures.Received]:
    frames = []
    for line in path.read_text().splitlines() if path.exists() else []:
        entry = json.loads(line)
        frames.append(figures.Received(entry["alarm_id"], entry["sequence"], entry["at"]))
    return frames


def gateway_log(path: Path) -> dict[str, Any]:
    """ERROR lines (distinct messages), WARNING counts, worker restarts."""
    errors: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    restarts = other = 0
    native_errors: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:  # pjsip's own log lines, written by the SIP workers
            other += 1
            if "error" in line.lower():
                native_errors[line[:160]] += 1
            continue
        level, message = entry.get("level"), str(entry.get("msg", ""))[:160]
        if entry.get("logger", "").startswith(("gateway.sip", "gateway.speech")):
            restarts += bool(RESTART.search(message) and level in ("warning", "error"))
        if level in ("error", "critical"):
            errors[message] += 1
        elif level == "warning":
            warnings[message] += 1
    return {
        "error_lines": sum(errors.values()),
        "errors": dict(errors.most_common(15)),
        "warning_lines": sum(warnings.values()),
        "warnings": dict(warnings.most_common(15)),
        "worker_restart_lines": restarts,
        "native_lines": other,
        "native_errors": dict(native_errors.most_common(10)),
    }


def processes(samples: list[dict[str, Any]], warm_up_s: float) -> list[dict[str, Any]]:
    """Per process: mean CPU %, RSS/USS at start, after warm-up and at the end, growth %/h
    after warm-up and over the run's last quarter (a warming cache slows down, a leak
    does not), and the RSS series once a minute."""
    series: dict[int, list[tuple[float, dict[str, Any]]]] = defaultdict(list)
    for sample in samples:
        for proc in sample["procs"]:
            series[proc["pid"]].append((sample["t"], proc))
    out = []
    for pid, points in sorted(series.items(), key=lambda kv: (kv[1][0][1]["role"], kv[0])):
        (t0, first), (t1, last) = points[0], points[-1]
        after = [p for t, p in points if t >= warm_up_s] or [last]
        span = max(t1 - t0, 1e-9)
        last_quarter = t1 - (t1 - t0) / 4
        rss = [(t, p["rss_mib"]) for t, p in points]
        out.append({
            "pid": pid,
            "role": first["role"],
            "seconds": round(span, 1),
            "cpu_pct": round((last["cpu_s"] - first["cpu_s"]) / span * 100, 1),
            "rss_mib": [first["rss_mib"], after[0]["rss_mib"], last["rss_mib"]],
            "uss_mib": [first["uss_mib"], after[0]["uss_mib"], last["uss_mib"]],
            "rss_growth_pct_h": _round(figures.growth_per_hour(rss, warm_up_s)),
            "rss_growth_last_quarter_pct_h": _round(figures.growth_per_hour(rss, last_quarter)),
            "uss_growth_pct_h": _round(figures.growth_per_hour(
                [(t, p["uss_mib"]) for t, p in points], warm_up_s)),
            "rss_series": [(round(t), v) for n, (t, v) in enumerate(rss) if n % 12 == 0],
        })  # fmt: skip
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def audio(soak: Soak) -> dict[str, Any]:
    """Frame continuity of every finished call's recording, and the WebRTC listeners' gaps."""
    assert soak.clip is not None
    lost = inserted = aligned = calls = 0
    worst = 0
    for call in soak.tally.calls:
        for recording in sorted((soak.root / "data" / "recordings" / call.alarm_id).glob("*.wav")):
            one_lost, one_inserted, points = phone.continuity(recording, soak.clip)
            lost, inserted, aligned, calls = (
                lost + one_lost, inserted + one_inserted, aligned + points, calls + 1,
            )  # fmt: skip
            worst = max(worst, one_lost + one_inserted)
    heard = [h for h in soak.tally.heard if h.connected]
    return {
        "recorded_calls": calls,
        "alignment_points": aligned,
        "frames_lost": lost,
        "frames_inserted": inserted,
        "worst_call_frames": worst,
        "webrtc_legs": len(heard),
        "webrtc_frames": sum(h.frames for h in heard),
        "webrtc_frames_missing": sum(h.gaps for h in heard),
    }


def summarise(soak: Soak, db: dict[str, Any], metrics: str, elapsed_s: float) -> dict[str, Any]:
    """The run's JSON result."""
    tally, options = soak.tally, soak.o
    assert soak.clip is not None
    frames = received(soak.root / "received.jsonl")
    delivery = figures.check_delivery(db["expected"], frames)
    first_frame: dict[str, float] = {}
    for frame in sorted(frames, key=lambda f: f.at):
        if frame.alarm_id is not None:
            first_frame.setdefault(frame.alarm_id, frame.at)
    dc09_ms = [
        (first_frame[p.alarm_id] - p.accepted_at) * 1000
        for p in tally.posted
        if p.alarm_id in first_frame
    ]
    cue_s = [
        tally.cues[alarm] - (at + soak.clip.keyword_end_s)
        for alarm, at in db["connected"].items()
        if alarm in tally.cues
    ]
    call_alarms = [c.alarm_id for c in tally.calls]
    warm_up = figures.warm_up_seconds(elapsed_s)
    loads = [s["load"] for s in tally.samples]
    counters = {
        name: value
        for name, value in re.findall(r"^(gateway_\w+(?:\{[^}]*\})?) (\S+)$", metrics, re.M)
        if "_bucket" not in name and "_created" not in name
    }
    return {
        "machine": machine(),
        "minutes": round(elapsed_s / 60, 2),
        "warm_up_s": round(warm_up, 1),
        "options": {k: str(v) for k, v in vars(options).items()},
        "load_average": {
            "min": min(loads, default=0),
            "max": max(loads, default=0),
            "mean": round(sum(loads) / max(1, len(loads)), 2),
        },
        "alarms": {
            "accepted": len(tally.posted),
            "with_call": len(call_alarms),
            "absent_from_db": len(db["absent"]),
            "left_open": db["still_open"],
            "api_latency_ms": figures.percentiles(
                [p.latency_ms for p in tally.posted if not p.with_call], 50, 99
            ),
        },
        "dc09": {
            "events_expected": delivery.expected,
            "frames_received": delivery.received,
            "missing": len(delivery.missing),
            "duplicates": len(delivery.duplicates),
            "out_of_order_alarms": len(delivery.out_of_order),
            "unexpected": delivery.unexpected,
            "link_checks": delivery.link_checks,
            "dead_letters": db["dead_letters"],
            "alarm_to_ack_ms": figures.percentiles(dc09_ms, 50, 99),
        },
        "calls": {
            "placed": len(tally.calls),
            "sipp_failures": sum(1 for c in tally.calls if c.exit_code not in (0, None)),
            "connected": sum(1 for a in call_alarms if a in db["connected"]),
            "with_cue": sum(1 for a in call_alarms if a in tally.cues),
            "cue_latency_s": figures.percentiles(cue_s, 50, 90),
        },
        "audio": audio(soak),
        "errors": {
            "http": dict(tally.http_errors),
            **gateway_log(soak.root / "gateway.log"),
            "event_stream": dict(tally.stream_messages),
        },
        "processes": processes(tally.samples, warm_up),
        "samples": len(tally.samples),
        "gateway_metrics": counters,
    }


def table(result: dict[str, Any]) -> str:
    """A short human summary of ``result``."""

    def ms(p: dict[str, Any], *keys: str) -> str:
        return " / ".join("-" if p[k] is None else f"{p[k]:.1f}" for k in keys)

    a, d, c, au, e = (result[k] for k in ("alarms", "dc09", "calls", "audio", "errors"))
    lines = [
        f"soak: {result['minutes']} min on {result['machine']}, "
        f"load average {result['load_average']}",
        f"alarms accepted {a['accepted']} ({a['with_call']} with a call); absent from the "
        f"database {a['absent_from_db']}; left open {a['left_open']}; "
        f"API p50/p99/max {ms(a['api_latency_ms'], 'p50', 'p99', 'max')} ms",
        f"DC-09 events {d['events_expected']}: missing {d['missing']}, duplicates "
        f"{d['duplicates']}, out of order {d['out_of_order_alarms']}, dead letters "
        f"{d['dead_letters']}; alarm -> ACK p50/p99/max "
        f"{ms(d['alarm_to_ack_ms'], 'p50', 'p99', 'max')} ms",
        f"calls {c['placed']} (sipp failures {c['sipp_failures']}, connected {c['connected']}, "
        f"with a cue {c['with_cue']}); cue latency p50/p90/max "
        f"{ms(c['cue_latency_s'], 'p50', 'p90', 'max')} s",
        f"audio: {au['recorded_calls']} recordings, frames lost {au['frames_lost']}, inserted "
        f"{au['frames_inserted']}; WebRTC legs {au['webrtc_legs']}, frames {au['webrtc_frames']}, "
        f"missing {au['webrtc_frames_missing']}",
        f"errors: HTTP {e['http'] or 'none'}; log ERROR lines {e['error_lines']}, WARNING "
        f"{e['warning_lines']}; pjsip error lines {sum(e['native_errors'].values())}; "
        f"worker restarts {e['worker_restart_lines']}",
        f"{'process':<22}{'CPU %':>7}{'RSS start/warm/end MiB':>26}{'RSS %/h':>9}"
        f"{'USS %/h':>9}{'last 1/4':>9}",
    ]
    for p in result["processes"]:
        rss = "/".join(f"{v:.0f}" for v in p["rss_mib"])
        lines.append(
            f"{p['role'] + ' ' + str(p['pid']):<22}{p['cpu_pct']:>7.1f}{rss:>26}"
            f"{_fmt(p['rss_growth_pct_h']):>9}{_fmt(p['uss_growth_pct_h']):>9}"
            f"{_fmt(p['rss_growth_last_quarter_pct_h']):>9}"
        )
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
