"""Run the shipped Kamailio SIP edge (``docker/kamailio/kamailio.cfg``) on loopback.

The configuration is the one the Docker image uses, set through the same
environment variables; only addresses, ports and files differ.
"""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import free_port
from tests.integration.gateway_process import stop_process
from tests.sip.conftest import free_udp_port

CONFIG = Path(__file__).parents[2] / "docker" / "kamailio" / "kamailio.cfg"


def self_signed(cert: Path, key: Path, name: str = "edge.test") -> None:
    """A throwaway certificate for the edge's TLS listener."""
    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def options_request(port: int, local_port: int, transport: str = "UDP") -> bytes:
    """An OPTIONS to the edge itself, which it answers 200 (a liveness check)."""
    return (
        f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} 127.0.0.1:{local_port};branch=z9hG4bK{time.monotonic_ns()}\r\n"
        f"From: <sip:probe@127.0.0.1>;tag={time.monotonic_ns()}\r\n"
        f"To: <sip:127.0.0.1:{port}>\r\n"
        f"Call-ID: {time.monotonic_ns()}@probe\r\n"
        "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


@dataclass
class KamailioEdge:
    """Kamailio in front of the SIP workers listed in ``workers`` (``host:port``)."""

    root: Path
    db_url: str
    """Kamailio's form: ``postgres://user@host:port/database``."""
    workers: list[str]
    internal_addr: str = "127.0.0.2"
    """Where the edge relays to the workers from: a second address, as in a container
    network (phones reach it on 127.0.0.1)."""
    realm: str = "alarm-gateway"
    udp_port: int = field(default_factory=free_udp_port)
    tls_port: int = field(default_factory=free_port)
    environment: dict[str, str] = field(default_factory=dict)
    """Further ``EDGE_*`` settings, e.g. the flood limits."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.root / "kamailio.log"

    def start(self) -> None:
        kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
        if not Path(kamailio).exists():
            raise RuntimeError(
                "kamailio not found: run scripts/setup --test "
                "(Debian packages kamailio, kamailio-postgres-modules, kamailio-tls-modules)"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        dispatcher = self.root / "dispatcher.list"
        socket = f"udp:{self.internal_addr}:{self.udp_port}"
        dispatcher.write_text(
            "".join(f"1 sip:{worker} 0 0 socket={socket}\n" for worker in self.workers)
        )
        cert, key = self.root / "cert.pem", self.root / "key.pem"
        self_signed(cert, key)
        env = {
            **os.environ,
            "EDGE_ADDR": "127.0.0.1",
            "EDGE_INTERNAL_ADDR": self.internal_addr,
            "EDGE_UDP_PORT": str(self.udp_port),
            "EDGE_TLS_PORT": str(self.tls_port),
            "EDGE_DB_URL": self.db_url,
            "EDGE_REALM": self.realm,
            "EDGE_DISPATCHER_LIST": str(dispatcher),
            "EDGE_TLS_CERT": str(cert),
            "EDGE_TLS_KEY": str(key),
            "EDGE_NONCE_SECRET": "loopback-test-secret",
            **self.environment,
        }
        command = [kamailio, "-DD", "-E", "-f", str(CONFIG), "-Y", str(self.root)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kamailio exited: {self.log.read_text()[-3000:]}")
            if self.answers():
                return
        raise TimeoutError(f"kamailio did not answer in 15 s: {self.log.read_text()[-3000:]}")

    def answers(self, within: float = 0.3) -> bool:
        """True if the edge answers an OPTIONS over UDP within ``within`` s."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(within)
            sock.sendto(
                options_request(self.udp_port, sock.getsockname()[1]),
                ("127.0.0.1", self.udp_port),
            )
            try:
                return sock.recv(65535).startswith(b"SIP/2.0 200")
            except TimeoutError:
                return False

    def stop(self) -> None:
        stop_process(self.process)
