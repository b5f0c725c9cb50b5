"""Two gateway instances on one PostgreSQL behind the shipped Kamailio edge, all real.

Phones call the edge only: it checks their digest credentials against the
device records, spreads the calls over every instance's SIP workers and, when
an instance dies, sends new calls to the survivor. The monitoring centre's
receiver (pysiaalarm) gets every outbox event exactly once.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.dc09.mapping import load_mapping
from gateway.sip.digest import ha1
from gateway.store.store import Store
from tests.conftest import free_port
from tests.dc09.test_sender import SiaReceiver
from tests.integration.gateway_process import GatewayProcess
from tests.integration.kamailio_edge import KamailioEdge, options_request
from tests.integration.test_forwarding import dc09_config
from tests.postgres import TEMPLATE, PostgresServer
from tests.sip.conftest import free_udp_port

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).parent / "scenarios"
USER, PASSWORD = "phone1", "correct-horse-battery"
WORKERS = 2
TAKEOVER_AFTER = 5.0
"""Seconds without a heartbeat before an instance counts as dead."""
EDGE_RELAY = "127.0.0.2"
"""The edge's address towards the workers, which they trust to name the device."""
_CONTACT_PORT = re.compile(r"^Contact: <sip:[^>]*:(\d+)>", re.MULTILINE)


def free_udp_run(count: int) -> int:
    """The first of ``count`` consecutive UDP ports free on loopback (worker i on base + i)."""
    for _ in range(100):
        base = free_udp_port()
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free UDP ports")


@dataclass
class Instance:
    name: str
    process: GatewayProcess
    sip_base: int

    @property
    def worker_ports(self) -> set[int]:
        return set(range(self.sip_base, self.sip_base + WORKERS))


def make_instance(name: str, root: Path, db_url: str, rtp_base: int) -> Instance:
    process = GatewayProcess(root)
    sip_base = free_udp_run(WORKERS)
    root.mkdir(parents=True)
    (root / "gateway.toml").write_text(
        f'[gateway]\ndata_dir = "{root / "data"}"\npublic_url = "{process.url}"\n'
        f'[http]\nhost = "127.0.0.1"\nport = {process.port}\n'
        f'[database]\nurl = "{db_url}"\ninstance_id = "{name}"\n'
        f"heartbeat_s = 0.5\ntakeover_after_s = {TAKEOVER_AFTER}\n"
        "[voice]\nenabled = true\n[speech]\nenabled = false\n"
        "[recording]\nenabled = false\n[dialplan]\nenabled = false\n"
        f"[sip]\nworkers = {WORKERS}\nbase_port = {sip_base}\n"
        f'trusted_edges = ["{EDGE_RELAY}"]\n'
        f"rtp_base_port = {rtp_base}\nrtp_ports_per_worker = 40\n"
        "media_timeout = 30\n"  # sipp sends no audio
    )
    return Instance(name, process, sip_base)


@dataclass
class Cluster:
    a: Instance
    b: Instance
    edge: KamailioEdge
    receiver: SiaReceiver
    store: Store
    """The shared database, as the test reads it."""
    root: Path

    def instance_of(self, worker_port: int) -> str:
        owner = [i.name for i in (self.a, self.b) if worker_port in i.worker_ports]
        assert owner, f"port {worker_port} is no gateway worker"
        return owner[0]


@pytest.fixture
async def cluster(postgres_server: PostgresServer, tmp_path: Path) -> AsyncIterator[Cluster]:
    database = f"edge_{free_port()}"
    postgres_server.create_database(database, TEMPLATE)
    db_url = postgres_server.url(database)
    receiver = SiaReceiver(free_port())
    await receiver.start()
    a = make_instance("a", tmp_path / "a", db_url, 24000 + free_port() % 2000 * 2)
    b = make_instance("b", tmp_path / "b", db_url, 28000 + free_port() % 2000 * 2)
    edge = KamailioEdge(
        tmp_path / "edge",
        f"postgres://postgres@127.0.0.1:{postgres_server.port}/{database}",
        [f"127.0.0.1:{port}" for i in (a, b) for port in sorted(i.worker_ports)],
        internal_addr=EDGE_RELAY,
        environment={"EDGE_BAN_SECONDS": "30"},
    )
    store = await Store.open(db_url, reference_base="http://127.0.0.1")
    try:
        for instance in (a, b):
            dc09_config(instance.process, receiver.port)
        yield Cluster(a, b, edge, receiver, store, tmp_path)
    finally:
        edge.stop()
        a.process.stop()
        b.process.stop()
        await receiver.stop()
        await store.close()
        postgres_server.drop_database(database)


async def phone_call(
    cluster: Cluster,
    scenario: str,
    alarm_id: str = "",
    *,
    user: str = USER,
    password: str = PASSWORD,
    caller: str = USER,
    hold_ms: int = 1500,
) -> tuple[int, str]:
    """One sipp phone through the edge, From ``sip:caller@127.0.0.1``, with digest
    credentials ``user`` / ``password``; its exit code and its SIP message log."""
    folder = cluster.root / "sipp" / f"{free_port()}"
    folder.mkdir(parents=True)
    script = folder / scenario
    script.write_text((SCENARIOS / scenario).read_text().replace("@HOLD_MS@", str(hold_ms)))
    messages = folder / "messages.log"
    args = [
        "-sf", str(script), "-m", "1", "-s", caller, "-au", user, "-ap", password,
        "-key", "alarm_id", alarm_id,
        "-i", "127.0.0.1", "-p", str(free_udp_port()),
        "-mi", "127.0.0.1", "-mp", str(free_udp_port()),
        "-nostdin", "-timeout", "20s", "-timeout_error",
        "-trace_msg", "-message_file", str(messages),
        f"127.0.0.1:{cluster.edge.udp_port}",
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        "sipp", *args, cwd=folder, stdout=asyncio.subprocess.DEVNULL
    )
    code = await asyncio.wait_for(process.wait(), 30)
    return code, messages.read_text(errors="replace") if messages.exists() else ""


def answering_worker(messages: str) -> int:
    """The port of the worker whose 200 OK answered the INVITE (its Contact)."""
    answer = messages[messages.index("SIP/2.0 200 OK") :]
    match = _CONTACT_PORT.search(answer)
    assert match, answer[:500]
    return int(match.group(1))


async def calls(cluster: Cluster, alarm_ids: list[str], hold_ms: int = 1500) -> list[str]:
    """One concurrent call per alarm; the instance each call landed on."""
    results = await asyncio.gather(
        *(
            phone_call(cluster, "uac_edge_call.xml", alarm_id, hold_ms=hold_ms)
            for alarm_id in alarm_ids
        )
    )
    for code, messages in results:
        assert code == 0, messages[-3000:]
    return [cluster.instance_of(answering_worker(messages)) for _, messages in results]


def raise_alarm(instance: Instance, token: str, key: str) -> str:
    status, body = instance.process.request(
        "POST",
        "/api/v1/alarms",
        {"type": "sos", "occurred_at": "2026-12-04T08:00:00Z"},
        {"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )
    assert status == 201, body
    return str(body["id"])


async def forwarded_ids(store: Store) -> list[int]:
    """Ids of the outbox events the DC-09 mapping forwards, read from the shared database."""
    mapping = load_mapping()
    events = await store.outbox_after(0, limit=10_000)
    return [event.id for event in events if mapping.entry_for(event) is not None]


def received_sequences(receiver: SiaReceiver) -> Counter[int]:
    """DC-09 sequence numbers seen; the gateway sends outbox event ``id`` as the sequence."""
    return Counter(int(event.sequence) for event in receiver.events)


async def until(check: Callable[[], Awaitable[bool]], within: float) -> None:
    """Poll ``check`` until true: the gateways change the database, other processes."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.2)


async def all_delivered_once(cluster: Cluster) -> list[int]:
    """Wait until the receiver has every forwarded outbox event, then check none came twice."""

    async def all_received() -> bool:
        expected = set(await forwarded_ids(cluster.store))
        return set(received_sequences(cluster.receiver)) == expected

    await until(all_received, 30)
    await asyncio.sleep(1.0)  # a duplicate would arrive now
    counts = received_sequences(cluster.receiver)
    expected = await forwarded_ids(cluster.store)
    assert sorted(counts) == expected
    assert {n for n, seen in counts.items() if seen > 1} == set()
    return expected


def tls_options(port: int) -> str:
    """Send OPTIONS over TLS to the edge; the status line of its answer."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        tls.sendall(options_request(port, tls.getsockname()[1], "TLS"))
        return tls.recv(65535).split(b"\r\n", 1)[0].decode()


async def test_edge_authenticates_spreads_fails_over_and_forwards_once(cluster: Cluster) -> None:
    a, b, edge = cluster.a, cluster.b, cluster.edge
    token = a.process.cli("device", "add", "phone-1", "--sip-uri", f"sip:{USER}@127.0.0.1")
    await cluster.store.set_sip_credentials("phone-1", USER, ha1(USER, "alarm-gateway", PASSWORD))
    # two instances and their SIP workers starting at once: slow on a busy machine
    await asyncio.gather(*(asyncio.to_thread(i.process.start, 90) for i in (a, b)))
    await asyncio.to_thread(edge.start)
    assert await asyncio.to_thread(tls_options, edge.tls_port) == "SIP/2.0 200 OK"

    alarms = [raise_alarm(i, token, f"{i.name}-{n}") for i in (a, b) for n in range(2)]
    landed = await calls(cluster, alarms)
    assert sorted(landed) == ["a", "a", "b", "b"]  # round robin over the 4 workers

    # a wrong password or an unknown user: 401 then 403 from the edge, no worker rings
    for user, password in ((USER, "wrong-password"), ("stranger", PASSWORD)):
        code, messages = await phone_call(
            cluster, "uac_edge_refused.xml", user=user, password=password, caller=user
        )
        assert code == 0, messages[-3000:]
        assert "SIP/2.0 100" not in messages  # the edge relays after a 100 Trying: none here
        assert "Server: alarm-gateway edge" in messages[messages.index("SIP/2.0 403") :]
    assert edge.log.read_text().count("bad credentials") == 2

    # no X-Alarm-Id and a From nobody registered: the workers trust the edge's word for
    # the device it authenticated, and the call joins that device's open alarm
    seen = max(await all_delivered_once(cluster))
    code, messages = await phone_call(cluster, "uac_edge_call.xml", caller="roaming-7")
    assert code == 0, messages[-3000:]
    new = await cluster.store.outbox_after(seen, limit=10_000)  # voice.lost may follow
    assert [e.kind.value for e in new][:1] == ["voice.connected"]
    assert "alarm.raised" not in {e.kind.value for e in new}
    assert {e.alarm_id for e in new} <= set(alarms)
    delivered = await all_delivered_once(cluster)  # nothing in flight when one dies

    a.process.kill()

    # instance a's open alarms are taken over by b, which says so in their timelines
    async def taken_over(alarm_id: str) -> bool:
        alarm = await cluster.store.get_alarm(alarm_id)
        assert alarm is not None
        return any(e.data.get("kind") == "instance.takeover" for e in alarm.timeline)

    # the phone of a's alarm calls again at once and reaches b through the edge; b takes
    # the alarm over while it carries that call, which is not lost for it
    redial = asyncio.ensure_future(calls(cluster, alarms[:1], hold_ms=12_000))
    await until(lambda: taken_over(alarms[0]), 10 + TAKEOVER_AFTER)
    assert await redial == ["b"]

    async def hung_up() -> bool:  # the BYE is recorded just after sipp exits
        alarm = await cluster.store.get_alarm(alarms[0])
        return alarm is not None and alarm.timeline[-1].kind == "voice_lost"

    await until(hung_up, 5)
    redialled = await cluster.store.get_alarm(alarms[0])
    assert redialled is not None
    kinds = [e.data.get("kind", e.kind) for e in redialled.timeline]
    tail = kinds[len(kinds) - 1 - kinds[::-1].index("voice_connected") :]
    assert tail == ["voice_connected", "instance.takeover", "voice_lost"]
    assert redialled.timeline[-1].data["reason"].startswith("call ended (200")

    # two calls at once: both may fail over from a's dead workers to the same worker of b,
    # which carries two phones (phone_slots)
    landed = await calls(cluster, alarms[2:])
    assert landed == ["b", "b"]
    for alarm_id in alarms[:2]:
        alarm = await cluster.store.get_alarm(alarm_id)
        assert alarm is not None
        [note] = [e for e in alarm.timeline if e.data.get("kind") == "instance.takeover"]
        assert (note.actor, note.data["text"]) == ("instance:b", "taken over by instance b")
    assert not any([await taken_over(alarm_id) for alarm_id in alarms[2:]])  # b's own
    alarms.append(raise_alarm(b, token, "b-after"))
    assert await calls(cluster, alarms[-1:]) == ["b"]
    assert len(await all_delivered_once(cluster)) > len(delivered)

    # flood protection: a source sending far faster than any phone gets banned
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood:
        flood.bind(("127.0.0.1", 0))
        for _ in range(300):
            flood.sendto(
                options_request(edge.udp_port, flood.getsockname()[1]), ("127.0.0.1", edge.udp_port)
            )
    await asyncio.sleep(0.2)
    assert not edge.answers(within=1.0)
    assert "banned" in edge.log.read_text()
