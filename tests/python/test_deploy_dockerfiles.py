"""Dockerfiles (issue 10), checked statically (no Docker engine here): pinned bases, multi-stage,
non-root runtime user, a HEALTHCHECK, and every COPY source present and not excluded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy" / "docker"
FILES = sorted(DOCKER.glob("*.Dockerfile"))


def _instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def _args(ins: list[tuple[str, str]]) -> dict[str, str]:
    return dict(rest.split("=", 1) for op, rest in ins if op == "ARG" and "=" in rest)


def test_there_are_service_and_training_images() -> None:
    assert {p.name for p in FILES} == {"service.Dockerfile", "training.Dockerfile"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_bases_are_pinned_to_an_exact_version(path: Path) -> None:
    ins = _instructions(path)
    args = _args(ins)
    stages = [rest for op, rest in ins if op == "FROM"]
    assert len(stages) >= 2, "multi-stage build"
    for rest in stages:
        image = rest.split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        if "@sha256:" in image:
            continue
        name, _, tag = image.partition(":")
        assert re.fullmatch(r"\d+\.\d+\.\d+(-[a-z0-9.-]+)?", tag), f"{path.name}: {image} is not pinned"
        assert name in {"node", "python"}
    if path.name == "service.Dockerfile":
        assert args["NODE_IMAGE"].startswith("node:20.")
    else:
        assert args["PYTHON_IMAGE"].startswith("python:3.11.")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_runtime_is_non_root_with_a_healthcheck(path: Path) -> None:
    ins = _instructions(path)
    last_from = max(i for i, (op, _) in enumerate(ins) if op == "FROM")
    final = ins[last_from:]
    users = [rest for op, rest in final if op == "USER"]
    assert users, "the final stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert any(op == "HEALTHCHECK" and "CMD" in rest for op, rest in final)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_copy_sources_exist_and_are_in_the_context(path: Path) -> None:
    ignore = (path.parent / (path.name + ".dockerignore")).read_text().splitlines()
    allowed = [p[1:] for p in ignore if p.startswith("!")]
    for op, rest in _instructions(path):
        if op != "COPY" or "--from=" in rest:
            continue
        parts = [p for p in rest.split() if not p.startswith("--")]
        for src in parts[:-1]:
            assert (ROOT / src).exists(), f"{path.name}: COPY {src} does not exist"
            assert any(src == a or a.startswith(src + "/") or a == src + "/**" for a in allowed), (
                f"{path.name}: {src} is excluded by the .dockerignore"
            )


def test_service_healthcheck_probes_the_liveness_route() -> None:
    text = (DOCKER / "service.Dockerfile").read_text()
    assert "/health/live" in text
    assert "EXPOSE 58080" in text
