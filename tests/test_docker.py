"""The container files hold together: what compose.yaml, the Dockerfiles and the
gateway configurations say about each other (no Docker daemon needed)."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config.schema import Settings

DOCKER = Path(__file__).resolve().parents[1] / "docker"


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in lines)
        if word and not word.startswith("#")
    ]


def test_compose_runs_two_gateways_postgres_and_the_edge() -> None:
    services = compose()["services"]
    assert {"postgres", "gateway-1", "gateway-2", "kamailio"} <= set(services)
    for name in ("gateway-1", "gateway-2"):
        gateway = services[name]
        assert gateway["build"]["dockerfile"] == "docker/Dockerfile"
        assert gateway["user"] == "10001:10001"
        assert "/healthz" in " ".join(gateway["healthcheck"]["test"])
    # the second instance waits for the first, which ran the migrations
    assert services["gateway-2"]["depends_on"]["gateway-1"]["condition"] == "service_healthy"
    assert services["kamailio"]["user"] == "kamailio"
    assert services["kamailio"]["environment"]["EDGE_DB_URL"].startswith("postgres://edge:")


def test_gateway_image_is_multi_stage_non_root_with_a_health_check() -> None:
    steps = instructions(DOCKER / "Dockerfile")
    stages = [args for word, args in steps if word == "FROM"]
    assert len(stages) == 2 and stages[0].endswith("AS build")
    assert any(word == "COPY" and args.startswith("--from=build") for word, args in steps)
    [user] = [args for word, args in steps if word == "USER"]
    assert user == "gateway"
    [check] = [args for word, args in steps if word == "HEALTHCHECK"]
    assert "/healthz" in check
    # the user is switched to after everything is installed
    assert [word for word, _ in steps].index("USER") > max(
        i for i, (word, _) in enumerate(steps) if word == "RUN"
    )


def test_edge_image_runs_kamailio_as_its_own_user() -> None:
    steps = instructions(DOCKER / "kamailio" / "Dockerfile")
    assert ("USER", "kamailio") in steps
    installed = " ".join(args for word, args in steps if word == "RUN")
    for package in ("kamailio", "kamailio-postgres-modules", "kamailio-tls-modules"):
        assert package in installed


def test_each_instance_config_is_valid_and_its_workers_are_in_the_dispatcher_list() -> None:
    services = compose()["services"]
    listed = {
        line.split()[1]
        for line in (DOCKER / "kamailio" / "dispatcher.list").read_text().splitlines()
        if line and not line.startswith("#")
    }
    expected = set()
    for name in ("gateway-1", "gateway-2"):
        [mount] = [
            v
            for v in services[name]["volumes"]
            if v.endswith(":/etc/alarm-gateway/gateway.toml:ro")
        ]
        settings = Settings.model_validate(
            tomllib.loads((DOCKER / mount.split(":")[0]).read_text())
        )
        address = services[name]["networks"]["gateway"]["ipv4_address"]
        assert settings.sip.bind_address == address
        assert ipaddress.ip_address(address) in ipaddress.ip_network(
            compose()["networks"]["gateway"]["ipam"]["config"][0]["subnet"]
        )
        assert settings.database.url.startswith("postgresql+psycopg://")
        assert settings.database.instance_id == name
        edge_address = services["kamailio"]["networks"]["gateway"]["ipv4_address"]
        assert settings.sip.trusted_edges == (edge_address,)
        expected |= {
            f"sip:{address}:{settings.sip.base_port + i}" for i in range(settings.sip.workers)
        }
    assert listed == expected
    edge = services["kamailio"]
    relay = edge["environment"]["EDGE_INTERNAL_ADDR"]
    assert relay == edge["networks"]["gateway"]["ipv4_address"]
    assert edge["environment"]["EDGE_ADDR"] == edge["networks"]["edge"]["ipv4_address"]
    sockets = {
        line.split()[4]
        for line in (DOCKER / "kamailio" / "dispatcher.list").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert sockets == {f"socket=udp:{relay}:{edge['environment']['EDGE_UDP_PORT']}"}


@pytest.mark.integration
def test_kamailio_accepts_the_edge_configuration_with_the_compose_settings() -> None:
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    environment = {
        # "${NAME:-default}" as compose fills it in with nothing set
        name: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))
        for name, value in compose()["services"]["kamailio"]["environment"].items()
    }
    environment["EDGE_DISPATCHER_LIST"] = str(DOCKER / "kamailio" / "dispatcher.list")
    done = subprocess.run(
        [kamailio, "-c", "-f", str(DOCKER / "kamailio" / "kamailio.cfg")],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "advertise 127.0.0.1:5060" in done.stdout + done.stderr
