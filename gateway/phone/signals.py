"""Which auto-answer signals an INVITE carries: plain text work, no pjsua2.

Phones differ in the header they honour (docs/sip.md); the simulator accepts any of
the usual ones and reports which it saw, so a test can check what the gateway sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.sip.messages import Headers

_ANSWER_AFTER = re.compile(r";\s*answer-after\s*=\s*\d+", re.IGNORECASE)
_ALERT_AUTO = re.compile(r"info\s*=\s*alert-autoanswer|\bring answer\b|\bintercom\b", re.IGNORECASE)


def _is_signal(name: str, value: str) -> bool:
    name = name.lower()
    if name in ("answer-mode", "priv-answer-mode"):  # RFC 5373
        return value.split(";", 1)[0].strip().lower() == "auto"
    if name == "call-info":
        return _ANSWER_AFTER.search(value) is not None
    if name == "alert-info":
        return _ALERT_AUTO.search(value) is not None
    return name == "p-auto-answer"


def auto_answer_signals(headers: Headers) -> Headers:
    """The headers of ``headers`` that ask the phone to answer by itself, in order.

    Empty when the call is an ordinary one that a person would have to pick up.
    """
    return tuple((name, value) for name, value in headers if _is_signal(name, value))


REASONS = {200: "OK", 403: "Forbidden", 486: "Busy Here"}


@dataclass(frozen=True, slots=True)
class Decision:
    """What the phone does with an incoming call: 200 answers it, anything else refuses."""

    code: int
    why: str

    @property
    def reason(self) -> str:
        """The status line's reason phrase, e.g. "Busy Here"."""
        return REASONS[self.code]


def decide(signals: Headers, source_host: str, trusted: tuple[str, ...], busy: bool) -> Decision:
    """Answer only an auto-answer request, from a trusted host (any when none is named).

    Auto-answer opens a microphone to whoever asks: a phone must not obey strangers.
    """
    if trusted and source_host.strip("[]") not in {h.strip("[]") for h in trusted}:
        return Decision(403, f"{source_host} is not a trusted caller")
    if busy:
        return Decision(486, "already in a call")
    if not signals:
        return Decision(486, "no auto-answer header")
    return Decision(200, "auto-answer requested")
