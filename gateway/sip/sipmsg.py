"""Reading INVITEs and writing auto-answer headers: plain text work, no pjsua2.

pjsua2 hands the worker the whole received message as text; these helpers turn it
into the header list and offered codecs of :class:`~gateway.sip.messages.IncomingCall`.
"""

from __future__ import annotations

from gateway.sip.messages import Headers

# RFC 3261 section 7.3.3 compact forms of the headers a gateway cares about
_COMPACT = {
    "f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "c": "Content-Type",
    "l": "Content-Length", "v": "Via", "k": "Supported", "e": "Content-Encoding",
}  # fmt: skip


def parse_headers(message: str) -> Headers:
    """The headers of a SIP message in order, compact names expanded, folded lines joined."""
    head = message.replace("\r\n", "\n").split("\n\n", 1)[0]
    lines = head.split("\n")[1:]  # skip the request line
    headers: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t") and headers:  # RFC 3261 7.3.1 line folding
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name = name.strip()
        headers.append((_COMPACT.get(name, name), value.strip()))
    return tuple(headers)


def offered_codecs(message: str) -> tuple[str, ...]:
    """``encoding/clock`` of each audio payload type in the SDP offer, in offer order."""
    body = message.replace("\r\n", "\n").partition("\n\n")[2]
    return tuple(codec for _, codec in audio_formats(body))


def audio_formats(sdp: str) -> list[tuple[str, str]]:
    """``(payload type, encoding/clock)`` of the audio m-lines of an SDP body, in order.

    Static payload types without an ``a=rtpmap`` line get their RFC 3551 names.
    """
    formats: list[str] = []
    rtpmap: dict[str, str] = {}
    in_audio = False
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith("m="):
            parts = line[2:].split()
            in_audio = bool(parts) and parts[0] == "audio"
            if in_audio:
                formats.extend(parts[3:])
        elif in_audio and line.startswith("a=rtpmap:"):
            pt, _, spec = line[len("a=rtpmap:") :].partition(" ")
            encoding, _, rest = spec.strip().partition("/")
            rtpmap[pt] = f"{encoding}/{rest.split('/')[0]}"
    static = {"0": "PCMU/8000", "8": "PCMA/8000", "9": "G722/8000", "3": "GSM/8000"}
    return [(pt, rtpmap.get(pt) or static.get(pt, f"pt{pt}")) for pt in formats]


def _is(codec: str, *names: str) -> bool:
    return codec.split("/")[0].upper() in names


def wideband_only(sdp: str) -> str | None:
    """Our SDP with its audio narrowed to G.722 (and telephone-event for DTMF).

    pjsip answers an INVITE in the phone's codec order, so a phone listing G.711
    before G.722 first gets narrowband audio, which recognition handles worse. The
    worker then re-offers with this SDP, leaving the phone G.722 alone to choose.
    ``None``: already G.722 only, or no G.722 to keep.
    """
    ours = audio_formats(sdp)
    keep = {pt for pt, codec in ours if _is(codec, "G722", "TELEPHONE-EVENT")}
    if len(keep) == len(ours) or not any(_is(c, "G722") for pt, c in ours if pt in keep):
        return None
    out: list[str] = []
    in_audio = False
    for line in sdp.replace("\r\n", "\n").rstrip("\n").split("\n"):
        if line.startswith("m="):
            parts = line[2:].split()
            in_audio = bool(parts) and parts[0] == "audio"
            if in_audio:
                line = "m=" + " ".join(parts[:3] + [pt for pt in parts[3:] if pt in keep])
        elif (
            in_audio
            and line.startswith(("a=rtpmap:", "a=fmtp:"))
            and line.partition(":")[2].split(" ", 1)[0] not in keep
        ):
            continue
        out.append(line)
    return "\r\n".join(out) + "\r\n"


def auto_answer_headers(host: str) -> Headers:
    """Every auto-answer signal phones are known to honour (see docs/sip.md).

    Phones differ, so all are sent; a phone must accept them only from trusted peers.
    """
    return (
        ("Answer-Mode", "Auto"),
        ("Priv-Answer-Mode", "Auto"),
        ("Call-Info", f"<sip:{host}>;answer-after=0"),
        ("Alert-Info", f"<http://{host}>;info=alert-autoanswer;delay=0"),
    )
