"""Dockerfiles (issue 10), checked statically: this workplace has no Docker engine and no container
registry access, so the images are never built here (docs/deployment.md). What can be read from the
files is checked: pinned bases (exact version or digest, official images), multi-stage, non-root
runtime user, a HEALTHCHECK, every COPY source present and not excluded, and nothing fetched from
outside the allowed registries (Docker Hub official images, PyPI through uv.lock, npm through
package-lock.json, Debian's own apt sources)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy" / "docker"
FILES = sorted(DOCKER.glob("*.Dockerfile"))
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


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


def _runs(path: Path) -> list[str]:
    return [rest for op, rest in _instructions(path) if op == "RUN"]


def _commands(run: str) -> list[list[str]]:
    """The simple commands of one RUN line (split on &&, ||, ;, |), as words."""
    return [c.split() for c in re.split(r"&&|\|\||;|\|", run) if c.split()]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_bases_are_official_images_and_the_user_exists(path: Path) -> None:
    ins = _instructions(path)
    args = _args(ins)
    for op, rest in ins:
        if op != "FROM":
            continue
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0])
        # No registry host and no namespace: a Docker Hub official image (library/<name>).
        assert "/" not in image.split("@")[0], f"{path.name}: {image} is not an official Docker Hub image"
    final = ins[max(i for i, (op, _) in enumerate(ins) if op == "FROM") :]
    uid = [rest for op, rest in final if op == "USER"][-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, f"{path.name}: USER {uid} is not a numeric non-system uid"
    if path.name == "training.Dockerfile":
        # python:*-slim has no uid 1000: the Dockerfile creates it.
        assert any(f"--uid {uid}" in r for r in _runs(path))
    else:
        # node:* images ship the `node` user as uid 1000.
        assert args["NODE_IMAGE"].startswith("node:") and uid == "1000"


def _download_problems(path: Path) -> list[str]:
    """Every instruction that would fetch from outside the allowed registries, or unpinned."""
    problems: list[str] = []
    for op, rest in _instructions(path):
        if op == "ADD" and re.search(r"https?://|git@", rest):
            problems.append(f"ADD from a URL: {rest}")
        # A URL may only name the container itself (the HEALTHCHECK's probe).
        problems += [
            f"{host} in {op}"
            for host in re.findall(r"https?://([^/:'\"\s]+)", rest)
            if host not in LOCAL_HOSTS
        ]
    for run in _runs(path):
        for cmd in _commands(run):
            tool, line = cmd[0], " ".join(cmd)
            flags = {w.split("=")[0] for w in cmd if w.startswith("-")}
            if tool in {"curl", "wget", "git", "add-apt-repository"}:
                problems.append(f"fetches outside the registries: {line}")
            if any(w.startswith(("/etc/apt/sources", "/etc/apt/trusted")) for w in cmd):
                problems.append(f"changes apt sources: {line}")
            if tool == "pip":  # PyPI only, exact versions
                pkgs = [w for w in cmd[2:] if not w.startswith("-")]
                if flags & {"-i", "--index-url", "--extra-index-url", "-f", "--find-links"}:
                    problems.append(f"pip from another index: {line}")
                if not all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][\w.]*", p) for p in pkgs):
                    problems.append(f"unpinned pip package: {line}")
            if tool == "uv" and (
                cmd[1:2] != ["sync"]
                or "--frozen" not in flags
                or flags & {"--index", "--index-url", "--extra-index-url", "--find-links"}
            ):
                problems.append(f"uv not from the lock file: {line}")  # uv.lock decides versions and sources
            if tool in {"npm", "npx"} and (
                cmd[1:2] not in (["ci"], ["prune"], ["tsc"]) or "--registry" in flags
            ):
                problems.append(f"npm not from the lock file: {line}")
            if tool == "apt-get" and "install" in cmd:
                pkgs = [w for w in cmd[cmd.index("install") + 1 :] if not w.startswith("-")]
                if not all("=" in p for p in pkgs):
                    problems.append(f"unpinned apt package: {line}")
    return problems


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_nothing_is_downloaded_from_outside_the_allowed_registries(path: Path) -> None:
    assert _download_problems(path) == []


def test_the_download_check_catches_what_it_forbids(tmp_path: Path) -> None:
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text(
        "FROM python:3.11.14-slim-bookworm\n"
        "ADD https://example.com/tool.tgz /opt/\n"
        "RUN curl -fsSL https://get.example.sh | sh\n"
        "RUN pip install --extra-index-url https://mirror.example/simple torch \\\n"
        " && echo deb http://ppa.example stable main > /etc/apt/sources.list.d/x.list\n"
        "RUN apt-get install -y openjdk-17-jre-headless && uv pip install requests && npm install left-pad\n"
    )
    problems = _download_problems(bad)
    for expected in (
        "ADD from a URL",
        "example.com in ADD",
        "fetches outside the registries: curl",
        "pip from another index",
        "unpinned pip package",
        "changes apt sources",
        "unpinned apt package",
        "uv not from the lock file",
        "npm not from the lock file",
    ):
        assert any(p.startswith(expected) for p in problems), (expected, problems)


def test_lock_files_resolve_only_from_the_public_registries() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    sources = {
        str(pkg["source"].get("registry") or pkg["source"].get("editable") or pkg["source"])
        for pkg in lock["package"]
    }
    assert sources == {"https://pypi.org/simple", "."}, sources
    npm = json.loads((ROOT / "package-lock.json").read_text())
    resolved = {
        v["resolved"].split("/")[2] for v in npm["packages"].values() if isinstance(v.get("resolved"), str)
    }
    assert resolved <= {"registry.npmjs.org"}, resolved
    # No .npmrc in the build context points npm elsewhere (the service image copies the repo root's).
    assert not (ROOT / ".npmrc").exists() or "registry=" not in (ROOT / ".npmrc").read_text()
