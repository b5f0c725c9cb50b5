"""Auto-answer signals recognised in an INVITE's headers."""

from __future__ import annotations

import pytest

from gateway.phone.signals import Decision, auto_answer_signals, decide
from gateway.sip.messages import Headers
from gateway.sip.sipmsg import auto_answer_headers, parse_headers


def test_every_header_the_gateway_sends_is_recognised() -> None:
    sent = auto_answer_headers("gw.example.org")
    assert auto_answer_signals((("From", "<sip:gw@x>"), *sent, ("X-Alarm-Id", "A1"))) == sent


@pytest.mark.parametrize(
    "header",
    [
        ("answer-mode", "auto;require"),
        ("Priv-Answer-Mode", " Auto "),
        ("Call-Info", "<sip:pbx>; answer-after = 5"),
        ("Alert-Info", "<http://pbx>;info=alert-autoanswer;delay=0"),
        ("Alert-Info", "Ring Answer"),
        ("Alert-Info", "<http://pbx>;info=Intercom"),
        ("P-Auto-Answer", "normal"),
    ],
)
def test_one_signal_is_enough(header: tuple[str, str]) -> None:
    assert auto_answer_signals((("To", "<sip:a@b>"), header)) == (header,)


@pytest.mark.parametrize(
    "header",
    [
        ("Answer-Mode", "Manual"),
        ("Call-Info", "<http://pbx/photo.jpg>;purpose=icon"),
        ("Call-Info", "<sip:pbx>;answer-after="),
        ("Alert-Info", "<http://pbx/ring.wav>"),
        ("Subject", "Answer-Mode: Auto"),
    ],
)
def test_ordinary_calls_carry_no_signal(header: tuple[str, str]) -> None:
    assert auto_answer_signals((header,)) == ()


def test_signals_read_from_a_whole_invite() -> None:
    invite = (
        "INVITE sip:agent42@127.0.0.1:5090 SIP/2.0\r\n"
        "f: <sip:gateway@127.0.0.1>;tag=1\r\n"
        "Call-Info: <sip:127.0.0.1>\r\n ;answer-after=0\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    assert auto_answer_signals(parse_headers(invite)) == (
        ("Call-Info", "<sip:127.0.0.1> ;answer-after=0"),
    )


AUTO = (("Answer-Mode", "Auto"),)


@pytest.mark.parametrize(
    ("signals", "source", "trusted", "busy", "expected"),
    [
        (AUTO, "127.0.0.1", (), False, Decision(200, "auto-answer requested")),
        (AUTO, "10.0.0.9", ("10.0.0.9",), False, Decision(200, "auto-answer requested")),
        (AUTO, "[::1]", ("::1",), False, Decision(200, "auto-answer requested")),
        ((), "127.0.0.1", (), False, Decision(486, "no auto-answer header")),
        (AUTO, "127.0.0.1", (), True, Decision(486, "already in a call")),
        (AUTO, "10.0.0.8", ("10.0.0.9",), False, Decision(403, "10.0.0.8 is not a trusted caller")),
    ],
)
def test_decision(
    signals: Headers, source: str, trusted: tuple[str, ...], busy: bool, expected: Decision
) -> None:
    assert decide(signals, source, trusted, busy) == expected


def test_every_decision_has_a_reason_phrase() -> None:
    assert [decide((), "h", ("g",), False).reason, decide(AUTO, "h", (), False).reason] == [
        "Forbidden",
        "OK",
    ]
