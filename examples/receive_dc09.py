"""A small DC-09 receiver for trying the gateway's forwarding without a monitoring centre.

Prints one line per message and answers ACK, NAK or DUH as a real receiver would
(timestamp window 40 s past / 20 s future, NAK carrying its own time).

    .venv/bin/python examples/receive_dc09.py --port 10001 --account 1234
    .venv/bin/python examples/receive_dc09.py --port 10001 --account 1234:0123456789ABCDEF --udp
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

from gateway.dc09.content import parse_adm_cid_data, parse_sia_data
from gateway.dc09.crypto import key_from_string
from gateway.dc09.errors import Dc09Error
from gateway.dc09.grammar import Token
from gateway.dc09.receiver import Received, Receiver, Rejected


def describe(decision: Received | Rejected) -> str:
    """One printable line for a decision."""
    if isinstance(decision, Rejected):
        return f"rejected ({decision.error.response.value}): {decision.error}"
    frame = decision.frame
    event = ""
    with contextlib.suppress(Dc09Error):
        if frame.token is Token.SIA_DCS:
            sia = parse_sia_data(frame.data)
            event = f" code={sia.code} area={sia.area} zone={sia.zone}"
        elif frame.token is Token.ADM_CID:
            cid = parse_adm_cid_data(frame.data)
            event = f" cid={cid.qualifier.value}{cid.event:03d} group={cid.group} zone={cid.zone}"
    xdata = " ".join(f"{x.identifier}={x.value!r}" for x in frame.xdata)
    stamp = frame.timestamp.isoformat() if frame.timestamp else "-"
    return (
        f"{'*' if frame.encrypted else ''}{frame.token.value} #{frame.sequence:04d} "
        f"account={frame.account}{event} time={stamp} {xdata}".rstrip()
    )


class TcpSession:
    """One transmitter connection: frame, decide, answer."""

    def __init__(self, accounts: dict[str, bytes | None]) -> None:
        self.accounts = accounts

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        receiver = Receiver(self.accounts)
        try:
            while data := await reader.read(4096):
                receiver.receive_data(data)
                while (decision := receiver.next_event(datetime.now(UTC))) is not None:
                    print(describe(decision), flush=True)
                    writer.write(decision.answer)
        finally:
            writer.close()


class UdpSession(asyncio.DatagramProtocol):
    """Each datagram is one frame."""

    def __init__(self, accounts: dict[str, bytes | None]) -> None:
        self.receiver = Receiver(accounts)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        decision = self.receiver.handle_frame(data, datetime.now(UTC))
        print(describe(decision), flush=True)
        if self.transport is not None:
            self.transport.sendto(decision.answer, addr)


def parse_accounts(values: Sequence[str]) -> dict[str, bytes | None]:
    """``ACCOUNT`` or ``ACCOUNT:KEY`` arguments."""
    accounts: dict[str, bytes | None] = {}
    for value in values:
        account, _, key = value.partition(":")
        accounts[account.upper()] = key_from_string(key) if key else None
    return accounts


async def serve(host: str, port: int, accounts: dict[str, bytes | None], udp: bool) -> None:
    """Run until interrupted."""
    loop = asyncio.get_running_loop()
    if udp:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: UdpSession(accounts), local_addr=(host, port)
        )
        print(f"listening on udp {transport.get_extra_info('sockname')}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            transport.close()
        return
    server = await asyncio.start_server(TcpSession(accounts), host, port)
    print(f"listening on tcp {server.sockets[0].getsockname()}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=10001)
    parser.add_argument(
        "--account", action="append", required=True, help="ACCOUNT or ACCOUNT:AES_KEY; repeatable"
    )
    parser.add_argument("--udp", action="store_true", help="listen on UDP instead of TCP")
    args = parser.parse_args(argv)
    try:
        accounts = parse_accounts(args.account)
    except Dc09Error as exc:
        parser.error(str(exc))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, accounts, args.udp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
