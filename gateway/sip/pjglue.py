"""pjsua2 glue shared by every process that runs an endpoint (SIP workers, the phone).

pjsua2 calls Python back from C++: an exception escaping a callback can abort the
process, so every callback goes through a ``try`` that logs instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pjsua2 as pj

log = logging.getLogger("gateway.sip")


class ForwardingAccount(pj.Account):  # type: ignore[misc]
    """An account that hands each incoming call to ``on_incoming``."""

    def __init__(self, on_incoming: Callable[[pj.OnIncomingCallParam], None]) -> None:
        super().__init__()
        self._on_incoming = on_incoming

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        try:
            self._on_incoming(prm)
        except Exception:
            log.exception("incoming call handling failed")
