"""Raw SIP over UDP for the fuzzer and the flood test: well-formed requests and mutants.

pjsua2 parses SIP in C and the worker reads what it accepted; the only way to
reach both with hostile input is to write datagrams by hand, as an attacker would.
"""

from __future__ import annotations

import contextlib
import random
import socket
import time
import uuid
from dataclasses import dataclass

SDP = (
    "v=0\r\no=phone 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
    "m=audio {rtp} RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=ptime:20\r\na=sendrecv\r\n"
)


def request(
    method: str,
    target: tuple[str, int],
    local: tuple[str, int],
    *,
    call_id: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    body: str = "",
) -> str:
    """One request as a phone would send it; ``body`` is an SDP for INVITEs."""
    host, port = target
    me, my_port = local
    lines = [
        f"{method} sip:gateway@{host}:{port} SIP/2.0",
        f"Via: SIP/2.0/UDP {me}:{my_port};branch=z9hG4bK{uuid.uuid4().hex[:16]};rport",
        f"From: <sip:fuzz@{me}:{my_port}>;tag={uuid.uuid4().hex[:8]}",
        f"To: <sip:gateway@{host}:{port}>",
        f"Call-ID: {call_id or uuid.uuid4().hex}",
        f"CSeq: 1 {method}",
        f"Contact: <sip:fuzz@{me}:{my_port}>",
        "Max-Forwards: 70",
        *(f"{name}: {value}" for name, value in headers),
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode())}")
    return "\r\n".join(lines) + "\r\n\r\n" + body


def invite(
    target: tuple[str, int],
    local: tuple[str, int],
    *,
    headers: tuple[tuple[str, str], ...] = (),
) -> str:
    """An INVITE offering G.711 from ``local``."""
    body = SDP.format(host=local[0], rtp=local[1] + 2)
    return request("INVITE", target, local, headers=headers, body=body)


def ack_for(response: str, target: tuple[str, int]) -> bytes | None:
    """The ACK a UAC owes a final non-2xx answer to its INVITE (RFC 3261 17.1.1.3)."""
    head = response.split("\r\n\r\n", 1)[0].split("\r\n")
    if not head[0].startswith("SIP/2.0 ") or "INVITE" not in response:
        return None
    status = head[0].split(" ", 2)[1]
    if not status.isdigit() or int(status) < 300:
        return None
    keep = [h for h in head[1:] if h.split(":", 1)[0].lower() in ("via", "from", "to", "call-id")]
    cseq = next((h for h in head if h.lower().startswith("cseq:")), "CSeq: 1 INVITE")
    number = cseq.split(":", 1)[1].split()[0]
    lines = [f"ACK sip:gateway@{target[0]}:{target[1]} SIP/2.0", *keep, f"CSeq: {number} ACK"]
    return ("\r\n".join([*lines, "Content-Length: 0"]) + "\r\n\r\n").encode()


# --- mutations ----------------------------------------------------------------------------

HEADERS = (
    "Via",
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Contact",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
    "X-Alarm-Id",
    "Call-Info",
    "Alert-Info",
    "Geolocation",
    "Answer-Mode",
    "Authorization",
    "Supported",
    "Require",
    "Route",
    "Record-Route",
    "i",
    "f",
    "t",
    "l",
)
NASTY = (
    "",
    " ",
    "\x00",
    "\xff\xfe",
    "%s%n",
    "'; DROP TABLE alarms;--",
    "<sip:@>",
    "<>",
    ";;;;",
    "sip:" + "a" * 300,
    "-1",
    "99999999999999999999",
    "0x7fffffff",
    "1e308",
    "NaN",
    "\t\t",
    "SIP/3.0",
    "<sip:x@[::1]:99999>",
    "\u00e9\u4e2d\U0001f600",
    "\\r\\n",
    "\r\n \r\n",
)


def _lines(message: str) -> tuple[list[str], str]:
    head, _, body = message.partition("\r\n\r\n")
    return head.split("\r\n"), body


def mutate(rng: random.Random, message: str) -> bytes:
    """One to four random mutations of a request: headers dropped, doubled, garbled or
    overlong, a bad request line, a broken SDP, bit flips or truncation."""
    lines, body = _lines(message)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(12)
        index = rng.randrange(1, len(lines)) if len(lines) > 1 else 0
        if kind == 0 and len(lines) > 1:
            del lines[index]
        elif kind == 1:
            lines.insert(index, lines[index])
        elif kind == 2:
            name = lines[index].split(":", 1)[0]
            lines[index] = f"{name}: {rng.choice(NASTY)}"
        elif kind == 3:
            lines.insert(index, f"{rng.choice(HEADERS)}: {rng.choice(NASTY)}")
        elif kind == 4:
            lines[index] += "x" * rng.choice((100, 1000, 8000, 30000))
        elif kind == 5:
            parts = lines[0].split(" ")
            parts[rng.randrange(len(parts))] = rng.choice(NASTY)
            lines[0] = " ".join(parts)
        elif kind == 6:
            sdp = body.split("\r\n")
            if sdp:
                at = rng.randrange(len(sdp))
                sdp[at] = rng.choice(("m=audio -1 RTP/AVP", "m=audio 4000 RTP/AVP 999 0 x",
                                      "c=IN IP4", "a=rtpmap:0", "a=rtpmap:96 G722/0/0", "m=video 1",
                                      "v=1", "=" * 50, rng.choice(NASTY)))  # fmt: skip
            body = "\r\n".join(sdp)
        elif kind == 7:
            body = "".join(chr(rng.randrange(1, 0x250)) for _ in range(rng.randrange(0, 400)))
        elif kind == 8:
            lines[index] = lines[index].replace(":", "", 1)
        elif kind == 9:
            lines[index] = " " + lines[index]  # a stray continuation line
        elif kind == 10:
            lines.insert(index, "Content-Length: " + rng.choice(("0", "-5", "100000", "abc")))
        else:
            lines[index] = lines[index].upper() if rng.random() < 0.5 else lines[index].lower()
    raw = ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8", "surrogatepass")[:65000]
    final = rng.randrange(5)
    if final == 0:
        return raw[: rng.randrange(len(raw))]  # truncated
    if final == 1:
        data = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if final == 2 and rng.random() < 0.1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))  # garbage
    return raw


# --- a phone that checks the worker still answers -----------------------------------------


@dataclass
class Probe:
    """A UDP socket on its own port: sends requests, waits for their final answers."""

    target: tuple[str, int]
    sock: socket.socket

    @classmethod
    def open(cls, target: tuple[str, int], host: str = "127.0.0.1") -> Probe:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host, 0))
        return cls(target, sock)

    @property
    def local(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()
        return str(host), int(port)

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def drain(self) -> None:
        """Read answers waiting on the socket, ACKing final non-2xx ones."""
        self.sock.setblocking(False)
        try:
            while True:
                data = self.sock.recv(65535)
                ack = ack_for(data.decode("utf-8", "replace"), self.target)
                if ack is not None:
                    self.send(ack)
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)

    def ask(self, message: str, within: float = 5.0) -> int | None:
        """Send ``message`` (retransmitted every 0.5 s) and return its final status."""
        call_id = next(
            line.split(":", 1)[1].strip()
            for line in message.split("\r\n")
            if line.startswith("Call-ID:")
        )
        deadline = time.monotonic() + within
        next_send = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_send:
                self.send(message.encode())
                next_send = time.monotonic() + 0.5
            self.sock.settimeout(max(0.01, min(next_send, deadline) - time.monotonic()))
            try:
                data = self.sock.recv(65535).decode("utf-8", "replace")
            except TimeoutError:
                continue
            if f"Call-ID: {call_id}" not in data and f"i: {call_id}" not in data:
                ack = ack_for(data, self.target)  # a late answer to an earlier request
                if ack is not None:
                    self.send(ack)
                continue
            status = data.split(" ", 2)[1] if data.startswith("SIP/2.0 ") else ""
            if status.isdigit() and int(status) >= 200:
                ack = ack_for(data, self.target)
                if ack is not None:
                    self.send(ack)
                return int(status)
        return None

    def close(self) -> None:
        self.sock.close()


def flood(target: tuple[str, int], seconds: float, rate: float, source: str) -> tuple[int, int]:
    """Well-formed INVITEs, each a new call with SDP, from one ``source`` address at ``rate``
    per second, answers read and dropped; returns (sent, answers received)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.setblocking(False)
    host, port = sock.getsockname()
    local = (str(host), int(port))
    start = time.monotonic()
    sent = answers = 0
    try:
        while time.monotonic() - start < seconds:
            with contextlib.suppress(BlockingIOError):
                sock.sendto(invite(target, local).encode(), target)
                sent += 1
            with contextlib.suppress(BlockingIOError):
                while sock.recv(65535):
                    answers += 1
            time.sleep(max(0.0, start + sent / rate - time.monotonic()))
    finally:
        sock.close()
    return sent, answers
