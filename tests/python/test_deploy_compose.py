"""docker-compose.yml (issue 10) against the local stack (ops/local/stack.yaml): same services,
same host ports, pinned images, and the credentials the stack uses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
STACK = yaml.safe_load((ROOT / "ops" / "local" / "stack.yaml").read_text())


def _always_on() -> dict[str, Any]:
    return {k: v for k, v in COMPOSE["services"].items() if not v.get("profiles")}


def _host_ports(service: dict[str, Any]) -> set[int]:
    ports: set[int] = set()
    for spec in service.get("ports", []):
        parts = str(spec).split(":")
        assert len(parts) == 3 and parts[0] == "127.0.0.1", f"bind to loopback like the stack: {spec}"
        ports.add(int(parts[1]))
    return ports


def _stack_ports(name: str, svc: dict[str, Any]) -> set[int]:
    return {int(v) for k, v in svc.items() if k == "port" or k.endswith("_port")}


def test_same_services_as_the_local_stack_plus_the_service() -> None:
    assert set(_always_on()) == set(STACK["services"]) | {"aepred"}


def test_host_ports_match_the_local_stack() -> None:
    services = _always_on()
    for name, svc in STACK["services"].items():
        expected = _stack_ports(name, svc)
        if name == "kafka":
            # The controller listener stays inside the compose network.
            expected -= {svc["controller_port"]}
        assert _host_ports(services[name]) == expected, name
    assert _host_ports(services["aepred"]) == {STACK["aepred"]["port"]}


def test_every_image_is_pinned() -> None:
    for name, svc in COMPOSE["services"].items():
        image = svc["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: {image}"
        assert re.search(r"\d", tag), f"{name}: tag {tag} is not a version"


def test_credentials_and_versions_follow_the_stack() -> None:
    s = COMPOSE["services"]
    pg = STACK["services"]["postgres"]
    assert s["postgres"]["environment"] == {
        "POSTGRES_DB": pg["database"],
        "POSTGRES_USER": pg["user"],
        "POSTGRES_PASSWORD": pg["password"],
    }
    minio = STACK["services"]["minio"]
    assert s["minio"]["environment"]["MINIO_ROOT_USER"] == minio["access_key"]
    assert s["minio"]["environment"]["MINIO_ROOT_PASSWORD"] == minio["secret_key"]
    assert s["kafka"]["image"].endswith(":" + STACK["services"]["kafka"]["version"])
    assert (
        f"--artifacts-destination=s3://{STACK['services']['mlflow']['artifact_bucket']}"
        in s["mlflow"]["command"]
    )
    assert s["kafka"]["environment"]["KAFKA_NUM_PARTITIONS"] == STACK["kafka"]["default_partitions"]


def test_build_contexts_exist() -> None:
    for name, svc in COMPOSE["services"].items():
        if "build" in svc:
            ctx = (ROOT / "deploy" / svc["build"]["context"]).resolve()
            assert (ctx / svc["build"]["dockerfile"]).is_file(), name
    for svc in COMPOSE["services"].values():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("."):
                assert (ROOT / "deploy" / src).exists(), src
