"""DVC reproduction (issue 10): `dvc repro` in two clean clones of the repository gives byte-identical
features (and raw snapshot), the same silver rows and the same metrics; `dvc push` to a local remote
and `dvc pull` in a third clone restore every output with `dvc status` clean.

Runs the real stages (simulator, Spark silver and features, PyTorch training) on the params.yaml
`pipeline` trial (16 patients x 21 days) with training capped at 5 epochs. A few minutes on a loaded
2-core machine."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
import yaml
from conftest import ROOT, clean_clone, commit, sh, tool_env

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "dist" / "cli" / "main.js").exists(),
    reason="the raw stage simulates with node and a built CLI (make build)",
)


def _env() -> dict[str, str]:
    env = tool_env()
    env.setdefault("AEPRED_SPARK_MASTER", "local[2]")
    return env


def _sh(cwd: Path, *cmd: str) -> str:
    return sh(cwd, _env(), *cmd)


def _clone(dst: Path, remote: Path) -> Path:
    """A clean clone (conftest.clean_clone) with training capped at 5 epochs and the test's remote."""
    clean_clone(dst, _env(), {"training": {"max_epochs": 5}})
    _sh(dst, "dvc", "remote", "add", "--local", "-f", "-d", "test", str(remote))
    return dst


def _tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _rows(folder: Path) -> pa.Table:
    t = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
    keys = [(c, "ascending") for c in ("patient_id", "timestamp", "event_id") if c in t.column_names]
    return t.sort_by(keys).select(sorted(t.column_names))


def _lock_md5(repo: Path) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {
        f"{stage}:{o['path']}": o["md5"]
        for stage, spec in lock["stages"].items()
        for o in spec.get("outs", [])
    }


def test_dvc_repro_twice_from_clean_clones_is_identical(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    a = _clone(tmp_path / "a", remote)
    b = _clone(tmp_path / "b", remote)
    _sh(a, "dvc", "repro")
    _sh(b, "dvc", "repro")

    for data in ("data/lake/bronze", "data/lake/enrollment", "data/features"):
        ha, hb = _tree_hashes(a / data), _tree_hashes(b / data)
        assert ha and ha == hb, f"{data} differs between two reproductions"
    assert any(k.endswith(".parquet") for k in _tree_hashes(a / "data/features"))
    # Silver is Spark's writer output: file names carry a random write id, so it is compared by
    # content (every row of every topic), not by bytes.
    for topic in ("patient-vitals", "lab-results", "medications", "adverse-events"):
        ta, tb = (_rows(x / "data/lake/silver" / topic) for x in (a, b))
        assert ta.num_rows > 0 or topic == "adverse-events"
        assert ta.equals(tb), f"silver {topic} differs"

    ma = json.loads((a / "metrics/evaluation.json").read_text())
    mb = json.loads((b / "metrics/evaluation.json").read_text())
    assert ma == mb
    assert 0.0 <= ma["test"]["test_auroc"] <= 1.0
    assert ma["decision"]["promote"] in (True, False)

    # DVC records the same content hashes for the raw snapshot and the features. Silver's hash
    # follows its file names (above); the model's folder carries timings (summary.json seconds,
    # latency), so it is compared through the metrics instead.
    la, lb = _lock_md5(a), _lock_md5(b)
    for key in ("raw:data/lake/bronze", "raw:data/lake/enrollment", "features:data/features"):
        assert la[key] == lb[key], key

    # The raw snapshot's manifest names the source Kafka offsets.
    manifest = json.loads((a / "data/lake/bronze/manifest.json").read_text())
    assert manifest["snapshot"] == "patients_20240122"
    assert manifest["kafka_offsets"]["patient-vitals"]["0"]["first"] == 0

    # Push from one clone, pull into a third: every output comes back and nothing needs rerunning.
    commit(a, _env(), "repro", "dvc.lock", "metrics/evaluation.json")
    _sh(a, "dvc", "push")
    c = tmp_path / "c"
    _sh(tmp_path, "git", "clone", "-q", str(a), str(c))
    for link in ("dist", "node_modules"):
        if not (c / link).is_symlink():
            (c / link).symlink_to(ROOT / link)
    _sh(c, "dvc", "remote", "add", "--local", "-f", "-d", "test", str(remote))
    _sh(c, "dvc", "pull")
    assert _tree_hashes(c / "data/features") == _tree_hashes(a / "data/features")
    status = _sh(c, "dvc", "status", "--json")
    assert json.loads(status) == {}, status
