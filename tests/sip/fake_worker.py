"""A stand-in for the pjsua2 worker, to drive the supervisor through failures fast.

    python fake_worker.py MODE '<WorkerSettings JSON>'

MODE ``crash``: report ready, then exit 3. ``garbage``: report ready, then write a
frame header announcing 4 GiB. ``mute``: report ready, then never answer pings.
"""

from __future__ import annotations

import os
import sys

from gateway.sip.config import WorkerSettings
from gateway.sip.messages import WorkerReady, encode


def main() -> int:
    mode, raw = sys.argv[1], sys.argv[2]
    settings = WorkerSettings.model_validate_json(raw)
    out = sys.stdout.buffer
    out.write(encode(WorkerReady(settings.index, 40000 + settings.index, os.getpid())))
    out.flush()
    if mode == "crash":
        return 3
    if mode == "garbage":
        out.write(b"\xff\xff\xff\xff\x00")
        out.flush()
    sys.stdin.buffer.read()  # until the supervisor closes stdin or kills us
    return 0


if __name__ == "__main__":
    sys.exit(main())
