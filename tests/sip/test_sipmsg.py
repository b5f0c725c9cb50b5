"""INVITE text parsing and the auto-answer header set."""

from __future__ import annotations

from gateway.sip.sipmsg import auto_answer_headers, offered_codecs, parse_headers, wideband_only

INVITE = (
    "INVITE sip:gateway@10.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1\r\n"
    "f: <sip:phone@10.0.0.5>;tag=9\r\n"
    "To: <sip:gateway@10.0.0.1>\r\n"
    "i: abc@10.0.0.5\r\n"
    "X-Alarm-Id: A-1\r\n"
    "Subject: help\r\n"
    " me\r\n"
    "Content-Type: application/sdp\r\n"
    "\r\n"
    "v=0\r\n"
    "m=audio 4000 RTP/AVP 9 0 101\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "m=video 4002 RTP/AVP 96\r\n"
    "a=rtpmap:96 H264/90000\r\n"
)


def test_headers_in_order_with_compact_forms_and_folding() -> None:
    assert parse_headers(INVITE) == (
        ("Via", "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1"),
        ("From", "<sip:phone@10.0.0.5>;tag=9"),
        ("To", "<sip:gateway@10.0.0.1>"),
        ("Call-ID", "abc@10.0.0.5"),
        ("X-Alarm-Id", "A-1"),
        ("Subject", "help me"),
        ("Content-Type", "application/sdp"),
    )


def test_offered_audio_codecs_static_and_mapped() -> None:
    assert offered_codecs(INVITE) == ("G722/8000", "PCMU/8000", "telephone-event/8000")


def test_no_sdp_offers_nothing() -> None:
    assert offered_codecs("INVITE sip:x SIP/2.0\r\nTo: x\r\n\r\n") == ()


def test_auto_answer_headers_cover_every_known_convention() -> None:
    assert dict(auto_answer_headers("gw.example")) == {
        "Answer-Mode": "Auto",
        "Priv-Answer-Mode": "Auto",
        "Call-Info": "<sip:gw.example>;answer-after=0",
        "Alert-Info": "<http://gw.example>;info=alert-autoanswer;delay=0",
    }


OURS = (
    "v=0\r\n"
    "o=- 1 2 IN IP4 127.0.0.1\r\n"
    "m=audio 40000 RTP/AVP 9 0 8 120\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:120 telephone-event/8000\r\n"
    "a=fmtp:120 0-16\r\n"
    "a=sendrecv\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "a=rtpmap:96 H264/90000\r\n"
)


def test_wideband_offer_keeps_g722_and_dtmf_only_in_the_audio_line() -> None:
    assert wideband_only(OURS) == (
        "v=0\r\n"
        "o=- 1 2 IN IP4 127.0.0.1\r\n"
        "m=audio 40000 RTP/AVP 9 120\r\n"
        "a=rtpmap:9 G722/8000\r\n"
        "a=rtpmap:120 telephone-event/8000\r\n"
        "a=fmtp:120 0-16\r\n"
        "a=sendrecv\r\n"
        "m=video 0 RTP/AVP 96\r\n"
        "a=rtpmap:96 H264/90000\r\n"
    )


def test_wideband_offer_leaves_sdps_with_nothing_to_narrow() -> None:
    narrowband = OURS.replace("RTP/AVP 9 0 8 120", "RTP/AVP 0 8 120").replace(
        "a=rtpmap:9 G722/8000\r\n", ""
    )
    assert wideband_only(narrowband) is None
    assert wideband_only(wideband_only(OURS) or "") is None
