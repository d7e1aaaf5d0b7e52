"""The recipe through the real CLI on a tiny dataset: fixed seed, deterministic CPU, losses to 1e-4."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml.cli import main
from ml.data import split_by_patient, synthetic_frame
from ml.params import load_params
from ml.paths import REPO_ROOT
from ml.recipe import FlagError, TrainConfig, seed_everything, validate_config

# Per-epoch mean training loss (class-weighted BCE) for seed 7 on synthetic_frame(60, 12, 6, 3).
# Regenerate only when the recipe changes on purpose; a drift here means training changed.
EXPECTED_TRAIN_LOSS = [0.6907333, 0.6788006, 0.6635001]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "frame.parquet"
    synthetic_frame(n_patients=60, hours=12, n_features=6, seed=3).to_parquet(path)
    return path


def _train(tiny: Path, out: Path, *extra: str) -> dict[str, object]:
    rc = main(
        [
            "train",
            "--data", str(tiny),
            "--out", str(out),
            "--no-mlflow",
            "--device", "cpu",
            "--deterministic",
            "--threads", "1",
            "--seed", "7",
            "--epochs", "3",
            "--batch-size", "64",
            *extra,
        ]
    )  # fmt: skip
    assert rc == 0
    summary: dict[str, object] = json.loads((out / "summary.json").read_text())
    return summary


def test_recipe_losses_are_pinned_to_1e_4(tiny: Path, tmp_path: Path) -> None:
    summary = _train(tiny, tmp_path / "a")
    history = summary["history"]
    assert isinstance(history, list)
    losses = [h["train_loss"] for h in history]
    assert losses == pytest.approx(EXPECTED_TRAIN_LOSS, abs=1e-4)
    assert summary["seed"] == 7


def test_same_seed_same_model(tiny: Path, tmp_path: Path) -> None:
    a = _train(tiny, tmp_path / "a")
    b = _train(tiny, tmp_path / "b")
    assert a["history"] == b["history"] or [h["train_loss"] for h in a["history"]] == [  # type: ignore[union-attr]
        h["train_loss"]
        for h in b["history"]  # type: ignore[union-attr]
    ]
    assert a["metrics"]["test_auroc"] == b["metrics"]["test_auroc"]  # type: ignore[index]


def test_run_writes_model_files_and_a_checkpoint_per_epoch(tiny: Path, tmp_path: Path) -> None:
    summary = _train(tiny, tmp_path / "run")
    files = {p.name for p in (tmp_path / "run" / "model").iterdir()}
    assert {"model.pth", "model.onnx", "scaler.json", "feature_names.json", "model_card.md"} <= files
    ckpts = sorted((tmp_path / "run" / "checkpoints").glob("epoch_*.pt"))
    assert len(ckpts) == summary["epochs_run"]
    ev = {p.name for p in (tmp_path / "run" / "evaluation").iterdir()}
    assert {
        "roc.png",
        "precision_recall.png",
        "calibration.png",
        "confusion_matrix.png",
        "loss_curves.png",
    } <= ev
    assert "classification_report.txt" in ev


def test_seed_is_returned() -> None:
    assert seed_everything(123, deterministic=False) == 123


@pytest.mark.parametrize(
    ("kwargs", "mlflow", "register", "flags"),
    [
        ({}, False, True, ("--register", "--no-mlflow")),
        ({"deterministic": True, "device": "cuda"}, True, False, ("--deterministic", "--device cuda")),
    ],
)
def test_impossible_flag_combinations_are_rejected_naming_both(
    kwargs: dict[str, object], mlflow: bool, register: bool, flags: tuple[str, str]
) -> None:
    cfg = TrainConfig(data=Path("unused.parquet"), out_dir=Path("unused"), params=load_params(), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(FlagError) as err:
        validate_config(cfg, mlflow_enabled=mlflow, register=register)
    for flag in flags:
        assert flag in str(err.value)


def test_cli_rejects_before_reading_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["train", "--data", str(tmp_path / "nope.parquet"), "--no-mlflow", "--register"])
    assert rc == 2
    assert "--register" in capsys.readouterr().err


def test_split_is_by_patient_and_stratified() -> None:
    frame = synthetic_frame(n_patients=300, hours=5, seed=1)
    s = split_by_patient(frame["patient_id"].to_numpy(), frame["label"].to_numpy(), (0.7, 0.15, 0.15), 42)
    parts = [set(frame["patient_id"][m]) for m in (s.train, s.val, s.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert (s.train | s.val | s.test).all()
    pos = frame.groupby("patient_id")["label"].max()
    shares = [pos[list(p)].mean() for p in parts]
    assert max(shares) - min(shares) < 0.1
    assert len(parts[0]) == pytest.approx(0.7 * 300, abs=2)


def test_shipped_params_training_section() -> None:
    t = load_params(REPO_ROOT / "params.yaml").training
    assert tuple(t.hidden_sizes) == (64, 32) and t.dropout == 0.3 and t.max_epochs == 50 and t.patience == 5


def test_evaluate_cli_scores_the_exported_model(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = _train(tiny, tmp_path / "run")
    capsys.readouterr()
    rc = main(["evaluate", "--model", str(tmp_path / "run" / "model" / "model.onnx"), "--data", str(tiny)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["feature_set_hash"] == summary["feature_set_hash"]
    assert 0.5 < out["metrics"]["test_auroc"] <= 1.0


def test_drill_inverted_labels_makes_a_worse_model_by_construction(tiny: Path, tmp_path: Path) -> None:
    """The rollback drill's candidate (closed loop run 2): trained and calibrated on 1 - label, tested
    on the true labels; it ranks backwards, so it is worse than chance where a real model is better."""
    real = _train(tiny, tmp_path / "real", "--epochs", "8")
    drill = _train(tiny, tmp_path / "drill", "--epochs", "8", "--drill-inverted-labels")
    assert real["drill_inverted_labels"] is False
    assert drill["drill_inverted_labels"] is True
    real_auroc = real["metrics"]["test_auroc"]  # type: ignore[index]
    drill_auroc = drill["metrics"]["test_auroc"]  # type: ignore[index]
    assert real_auroc > 0.6
    assert drill_auroc < 0.4
    # the test set keeps the true labels: same rows, same positives as the real run
    assert drill["rows"] == real["rows"]


def test_drill_inverts_training_and_validation_labels_only(tiny: Path, tmp_path: Path) -> None:
    from ml.recipe import TrainRecipe

    params = load_params(None)
    recipes = []
    for drill in (False, True):
        cfg = TrainConfig(
            data=tiny, out_dir=tmp_path / str(drill), params=params, device="cpu", seed=7,
            drill_inverted_labels=drill,
        )  # fmt: skip
        r = TrainRecipe(cfg)
        r.setup()
        recipes.append(r)
    real, drill_r = recipes
    assert (drill_r.train_set.y == 1 - real.train_set.y).all()
    assert (drill_r.val_set.y == 1 - real.val_set.y).all()
    assert (drill_r.test_set.y == real.test_set.y).all()
    assert drill_r.train_set.y.dtype == real.train_set.y.dtype
    assert 0 < real.train_set.y.sum() < len(real.train_set.y)


def test_drill_inverted_labels_is_off_by_default() -> None:
    assert TrainConfig(data=None, out_dir=Path("x"), params=load_params(None)).drill_inverted_labels is False
