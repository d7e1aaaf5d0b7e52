"""`make eval-physionet TRAIN=<dir> TEST=<dir>` on a few hundred real PhysioNet 2019 stays.

The setA files are never copied: the two folders hold symbolic links in a temporary directory. The
run goes through the whole chain (TypeScript importer -> bronze -> Spark silver -> Spark features ->
train -> evaluate; several minutes on 2 cores) and the checks are on its one JSON line.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from ml.paths import REPO_ROOT

SET_A = REPO_ROOT.parent / "shared" / "data" / "physionet2019" / "training_setA"
N_TRAIN, N_TEST = 200, 100

needs_set_a = pytest.mark.skipif(not SET_A.is_dir(), reason=f"PhysioNet setA not present at {SET_A}")


def _split(tmp: Path) -> tuple[Path, Path, set[str], set[str]]:
    files = sorted(SET_A.glob("*.psv"))[: N_TRAIN + N_TEST]
    train, test = tmp / "training_setA_train", tmp / "training_setA_test"
    for d, part in ((train, files[:N_TRAIN]), (test, files[N_TRAIN:])):
        d.mkdir()
        for f in part:
            (d / f.name).symlink_to(f)
    return train, test, {f.stem for f in files[:N_TRAIN]}, {f.stem for f in files[N_TRAIN:]}


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "eval-physionet", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@needs_set_a
def test_eval_with_external_test_folder(tmp_path: Path) -> None:
    train, test, train_ids, test_ids = _split(tmp_path)
    out, work = tmp_path / "eval.json", tmp_path / "work"
    proc = _make(f"TRAIN={train}", f"TEST={test}", f"OUT={out}", f"EVAL_WORK={work}", "EPOCHS=3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = json.loads([x for x in proc.stdout.splitlines() if x.startswith("{")][-1])
    assert line == json.loads(out.read_text())

    assert line["evaluation"] == "external test set"
    assert line["train_dir"] == str(train) and line["test_dir"] == str(test)
    assert line["horizon"] == 6
    for key in ("auroc", "auprc", "calibration_error", "utility", "seconds"):
        assert isinstance(line[key], float) and math.isfinite(line[key]), key
    assert 0.0 <= line["auroc"] <= 1.0 and 0.0 <= line["calibration_error"] <= 1.0
    assert set(line["subgroup_auroc_gaps"]) >= {"age_group", "sex"}
    # every stay with at least one measurement becomes a patient of the frame
    assert 0.9 * N_TRAIN <= line["patients"] <= N_TRAIN
    assert 0.9 * N_TEST <= line["test_patients"] <= N_TEST
    assert line["chain_train"]["import_summary"]["files"] == N_TRAIN
    assert line["chain_test"]["import_summary"]["files"] == N_TEST
    assert line["features"] == len(
        json.loads((work / "train" / "frame" / "feature_names.json").read_text())["feature_names"]
    )

    # train and test patients are disjoint, in the JSON and in the frames the chain wrote
    assert line["train_test_patient_overlap"] == 0
    frame_train = set(pd.read_parquet(work / "train" / "frame" / "frame.parquet")["patient_id"])
    frame_test = set(pd.read_parquet(work / "test" / "frame" / "frame.parquet")["patient_id"])
    assert frame_train <= train_ids and frame_test <= test_ids
    assert not frame_train & frame_test
    assert len(frame_train) == line["patients"] and len(frame_test) == line["test_patients"]
    for h in ("6h", "24h"):
        hz = line["horizons"][h]
        assert hz["test_patients"] == line["test_patients"]
        assert hz["test_rows"] == line["test_rows"]
        assert hz["test_patients_in_train_or_val"] == 0
        assert hz["train_patients"] + hz["val_patients"] == line["patients"]
        for key in ("auroc", "auprc", "calibration_error"):
            assert math.isfinite(hz["model"][key]) and math.isfinite(hz["news2_baseline"][key])
        assert 0.0 < hz["prevalence_test"] < 1.0


def test_usage_errors_are_clear(tmp_path: Path) -> None:
    proc = _make()
    assert proc.returncode == 2 and "usage: make eval-physionet TRAIN=<dir>" in proc.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    bench = [
        str(REPO_ROOT / ".venv" / "bin" / "python"),
        str(REPO_ROOT / "bench" / "eval-physionet.bench.py"),
    ]
    proc = subprocess.run([*bench, "--train", str(empty)], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "not a folder of PhysioNet .psv files" in proc.stderr
    if SET_A.is_dir():
        proc = subprocess.run(
            [*bench, "--train", str(SET_A), "--test", str(SET_A)], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 2 and "--test must be a different folder than --train" in proc.stderr
