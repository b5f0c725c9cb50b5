"""The soak benchmark, shortened: its bookkeeping works end to end (so it cannot rot).

One real gateway with SIP and speech workers, its DC-09 receiver, alarms, a
sipp call with speech and a WebRTC listener for half a minute; the result must
account for every alarm and DC-09 event and hold process samples.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak.__main__ import lost, run
from bench.soak.results import table
from bench.soak.scenario import Options

pytestmark = pytest.mark.integration


@pytest.mark.timeout(240)
async def test_a_short_soak_loses_nothing_and_samples_every_process(tmp_path: Path) -> None:
    options = Options(
        minutes=0.5, alarm_rate=0.5, calls=1, call_s=16.0, listeners=1, sip_workers=2,
        sample_s=2.0, devices=2, workdir=tmp_path,
    )  # fmt: skip
    result = await run(options)
    print(table(result))
    alarms, dc09, calls, audio = (result[k] for k in ("alarms", "dc09", "calls", "audio"))
    assert alarms["accepted"] >= 12 and alarms["with_call"] >= 1
    assert lost(result) == 0 and dc09["duplicates"] == 0 and alarms["left_open"] == 0
    assert dc09["events_expected"] >= 2 * alarms["accepted"]  # raised and closed, at least
    assert dc09["alarm_to_ack_ms"]["max"] is not None
    assert calls["sipp_failures"] == 0 and calls["connected"] == calls["placed"]
    assert calls["with_cue"] >= 1 and calls["cue_latency_s"]["p50"] is not None
    assert audio["recorded_calls"] >= 1 and audio["alignment_points"] >= 1
    assert audio["webrtc_legs"] >= 1 and audio["webrtc_frames"] > 0
    assert result["errors"]["http"] == {} and result["errors"]["error_lines"] == 0
    roles = {p["role"] for p in result["processes"] if p["rss_mib"][-1] > 0}
    assert {"gateway", "sip-worker", "speech-worker", "receiver", "driver"} <= roles
    assert result["samples"] >= 10
