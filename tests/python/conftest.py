"""Shared setup of the pipeline tests that work on a clean clone of this repository
(test_dvc_repro.py, test_lineage_trace.py): the environment their tools run in, a checked command
runner, and the clone itself."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def tool_env(**extra: str) -> dict[str, str]:
    """This environment with the venv first on PATH, minus what would point a tool at another
    checkout or tracking server; `extra` is added (e.g. AEPRED_LOCAL_DIR, MLFLOW_TRACKING_URI)."""
    env = {k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "AEPRED_ROOT"}}
    env["PATH"] = f"{VENV_BIN}:{env['PATH']}"
    env.update(extra)
    return env


def sh(cwd: Path, env: dict[str, str], *cmd: str, timeout: float = 1800) -> str:
    """Runs a command; fails the test with the tail of its output when it exits non-zero."""
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert r.returncode == 0, f"{' '.join(cmd)} failed in {cwd}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in overrides.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def clean_clone(
    dst: Path, env: dict[str, str], params: dict[str, Any] | None = None, message: str = "clone"
) -> Path:
    """A clean clone of the working tree (tracked + untracked, not ignored) with its own one-commit
    git history and no DVC cache; dist/ and node_modules/ (build outputs) are linked. `params`
    overrides are merged into its params.yaml before the commit."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for f in filter(None, files):
        src = ROOT / f.decode()
        if src.is_file():
            (dst / f.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / f.decode())
    for link in ("dist", "node_modules"):
        (dst / link).symlink_to(ROOT / link)
    if params:
        current = yaml.safe_load((dst / "params.yaml").read_text())
        (dst / "params.yaml").write_text(yaml.safe_dump(merge(current, params), sort_keys=False))
    shutil.rmtree(dst / ".dvc" / "cache", ignore_errors=True)
    sh(dst, env, "git", "init", "-q")
    sh(dst, env, "git", "add", "-A")
    commit(dst, env, message)
    return dst


def commit(repo: Path, env: dict[str, str], message: str, *paths: str) -> str:
    """Commits (allowing an empty commit: a reproduced dvc.lock may be unchanged); returns HEAD."""
    if paths:
        sh(repo, env, "git", "add", *paths)
    sh(
        repo,
        env,
        "git",
        "-c",
        "user.email=t@t",
        "-c",
        "user.name=t",
        "commit",
        "--allow-empty",
        "-qm",
        message,
    )
    return sh(repo, env, "git", "rev-parse", "HEAD").strip()


@pytest.fixture
def clone_repo(tmp_path: Path) -> Callable[..., Path]:
    """clone_repo(name, env, params=None) -> a clean clone under tmp_path/name."""

    def make(name: str, env: dict[str, str], params: dict[str, Any] | None = None) -> Path:
        return clean_clone(tmp_path / name, env, params)

    return make
