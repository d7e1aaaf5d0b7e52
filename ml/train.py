"""`python -m ml train`: recipe -> ONNX -> test evaluation -> gates -> MLflow -> registry.

The final stdout line is one JSON object (metrics, gates, decision, seconds) so that scripts and the
GPU check can read the outcome without MLflow.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from ml import onnx_export
from ml.evaluate import evaluate_scores, subgroups_json
from ml.gates import Decision, GateResult, check_gates, compare_with_production
from ml.metrics import best_f1_threshold, best_utility_threshold
from ml.paths import REPO_ROOT
from ml.recipe import TrainConfig, TrainRecipe, run
from ml.report import classification_text, model_card, write_plots
from ml.tracking import EXPERIMENT


@dataclass(frozen=True)
class Options:
    mlflow: bool = True
    register: bool = False
    data_version: str | None = None
    run_name: str | None = None
    parity_rows: int = 10_000


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def data_version(path: Path) -> str:
    """Content address of the training data when no DVC version is given: sha256 of the file, or of
    the (name, size) listing of a folder (hashing a whole lake folder would dominate the run)."""
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file():
                h.update(f"{f.relative_to(path)}:{f.stat().st_size}\n".encode())
    else:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return "sha256:" + h.hexdigest()[:16]


def choose_threshold(recipe: TrainRecipe) -> float:
    val = recipe.val_set
    p = recipe.serving_scores(val.x)
    if recipe.threshold_strategy == "utility":
        t, _ = best_utility_threshold(val.y, p, val.patient_id)
        return t
    return best_f1_threshold(val.y, p)


def train(cfg: TrainConfig, opts: Options) -> dict[str, Any]:
    return train_full(cfg, opts)[0]


def train_full(cfg: TrainConfig, opts: Options) -> tuple[dict[str, Any], TrainRecipe, NDArray[np.float32]]:
    """(summary, the finished recipe with its splits, calibrated test scores from ONNX Runtime)."""
    started = time.perf_counter()
    recipe = TrainRecipe(cfg)
    run(recipe)
    threshold = choose_threshold(recipe)
    out = cfg.out_dir
    onnx_path = onnx_export.export(
        recipe.serving,
        len(recipe.features.names),
        out / "model" / "model.onnx",
        onnx_export.metadata_for(
            recipe.features.names,
            recipe.features.hash,
            recipe.features.version,
            model_version=f"{cfg.params.training.registered_model}@{git_commit()[:12]}",
            horizon_hours=cfg.horizon_hours,
            threshold=threshold,
            ig_steps=cfg.params.training.ig_steps,
        ),
    )
    sess = onnx_export.session(onnx_path)
    test = recipe.test_set
    p_test, _ = onnx_export.score(sess, test.x)
    parity_x = test.x[: opts.parity_rows]
    parity = float(np.max(np.abs(recipe.serving_scores(parity_x) - p_test[: len(parity_x)])))
    latency = onnx_export.single_row_latency_ms(sess, test.x)
    metrics, subgroups, gaps = evaluate_scores(test.y, p_test, test.frame, threshold, cfg.params)
    gate_result = check_gates(
        cfg.params.gates,
        auroc=metrics["test_auroc"],
        ece=metrics["test_ece"],
        subgroup_gaps=gaps,
        latency_p95_ms=latency["p95_ms"],
    )
    metrics.update({f"latency_{k}": v for k, v in latency.items()})
    metrics["onnx_parity_max_abs_diff"] = parity
    seconds = time.perf_counter() - started
    summary: dict[str, Any] = {
        "metrics": metrics,
        "seed": recipe.seed,
        "device": str(recipe.device),
        "best_epoch": recipe.best_epoch,
        "epochs_run": len(recipe.history),
        "stopped_early": recipe.stopped_early,
        "feature_set_hash": recipe.features.hash,
        "n_features": len(recipe.features.names),
        "rows": {"train": len(recipe.train_set.y), "val": len(recipe.val_set.y), "test": len(test.y)},
        "gates": {
            "passed": gate_result.passed,
            "reasons": list(gate_result.reasons),
            "checks": gate_result.checks,
        },
        "subgroups": subgroups_json(subgroups),
        "train_seconds": recipe.train_seconds,
        "history": [asdict(h) for h in recipe.history],
        "drill_inverted_labels": cfg.drill_inverted_labels,
    }
    (out / "evaluation").mkdir(parents=True, exist_ok=True)
    write_plots(
        out / "evaluation", test.y, p_test, threshold, recipe.history, cfg.params.training.calibration_bins
    )
    (out / "evaluation" / "classification_report.txt").write_text(
        classification_text(test.y, p_test, threshold)
    )
    if opts.mlflow:
        summary.update(_log_to_mlflow(cfg, opts, recipe, summary, gate_result, threshold, seconds))
    else:
        (out / "model" / "model_card.md").write_text(
            _card(cfg, recipe, summary, threshold, "(not logged)", opts)
        )
    summary["seconds"] = time.perf_counter() - started
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    return summary, recipe, p_test


def _card(
    cfg: TrainConfig,
    recipe: TrainRecipe,
    summary: dict[str, Any],
    threshold: float,
    run_id: str,
    opts: Options,
) -> str:
    m = summary["metrics"]
    frame = recipe.test_set.frame
    date_range = "n/a"
    for col in ("snapshot_time", "time", "date"):
        if col in frame.columns:
            date_range = f"{frame[col].min()} to {frame[col].max()}"
            break
    from ml.metrics import SubgroupResult

    subgroups = [
        SubgroupResult(**s) if s["auroc"] is not None else SubgroupResult(**{**s, "auroc": float("nan")})
        for s in summary["subgroups"]
    ]
    t = cfg.params.training
    return model_card(
        {
            "model_name": t.registered_model,
            "run_id": run_id,
            "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "n_features": summary["n_features"],
            "hidden_sizes": " -> ".join(str(h) for h in t.hidden_sizes),
            "dropout": t.dropout,
            "cal_a": recipe.calibration[0],
            "cal_b": recipe.calibration[1],
            "ig_steps": t.ig_steps,
            "feature_set_version": recipe.features.version,
            "feature_set_hash": recipe.features.hash,
            "data": cfg.data or f"feature store {cfg.feature_store} [{cfg.start}, {cfg.end})",
            "data_version": opts.data_version or "n/a",
            "date_range": date_range,
            "rows_train": summary["rows"]["train"],
            "rows_val": summary["rows"]["val"],
            "rows_test": summary["rows"]["test"],
            "patients_train": len(set(recipe.train_set.patient_id.tolist())),
            "patients_val": len(set(recipe.val_set.patient_id.tolist())),
            "patients_test": len(set(recipe.test_set.patient_id.tolist())),
            "seed": recipe.seed,
            "label": cfg.label,
            "horizon": f"{cfg.horizon_hours:g} h" if cfg.horizon_hours else "as labelled",
            "test_auroc": m["test_auroc"],
            "test_auprc": m["test_auprc"],
            "test_ece": m["test_ece"],
            "p05": m["test_precision_at_0_5"],
            "r05": m["test_recall_at_0_5"],
            "f05": m["test_f1_at_0_5"],
            "threshold_strategy": recipe.threshold_strategy,
            "threshold": threshold,
            "pt": m["test_precision_at_threshold"],
            "rt": m["test_recall_at_threshold"],
            "ft": m["test_f1_at_threshold"],
            "latency_p95_ms": m["latency_p95_ms"],
            "gates_status": "passed" if summary["gates"]["passed"] else "FAILED",
            "gates_reasons": "; ".join(summary["gates"]["reasons"]),
            "min_subgroup_positives": cfg.params.gates.min_subgroup_positives,
        },
        subgroups,
    )


def _log_to_mlflow(
    cfg: TrainConfig,
    opts: Options,
    recipe: TrainRecipe,
    summary: dict[str, Any],
    gate_result: GateResult,
    threshold: float,
    seconds: float,
) -> dict[str, Any]:
    import mlflow
    from mlflow.tracking import MlflowClient

    from ml import registry
    from ml.tracking import configure, ensure_experiment

    target = configure()
    exp_id = ensure_experiment(EXPERIMENT, target)
    client = MlflowClient(tracking_uri=target.tracking_uri)
    t = cfg.params.training
    source = cfg.data if cfg.data is not None else cfg.feature_store
    assert source is not None
    version = opts.data_version or data_version(source)
    out = cfg.out_dir
    with mlflow.start_run(experiment_id=exp_id, run_name=opts.run_name) as active:
        run_id = active.info.run_id
        mlflow.log_params(
            {
                "learning_rate": t.learning_rate,
                "batch_size": recipe.batch_size,
                "hidden_layers": json.dumps(list(t.hidden_sizes)),
                "dropout_rate": t.dropout,
                "epochs": recipe.max_epochs,
                "patience": t.patience,
                "seed": recipe.seed,
                "horizon": cfg.horizon_hours if cfg.horizon_hours is not None else "as labelled",
                "feature_set_hash": recipe.features.hash,
                "n_features": len(recipe.features.names),
                "class_weighting": t.class_weighting,
                "threshold_strategy": recipe.threshold_strategy,
                "device": str(recipe.device),
                "drill_inverted_labels": cfg.drill_inverted_labels,
            }
        )
        for rec in recipe.history:
            mlflow.log_metrics(
                {
                    "train_loss": rec.train_loss,
                    "val_loss": rec.val_loss,
                    "train_auroc": rec.train_auroc,
                    "val_auroc": rec.val_auroc,
                    "epoch_seconds": rec.seconds,
                },
                step=rec.epoch,
            )
        mlflow.log_metrics({k: v for k, v in summary["metrics"].items() if np.isfinite(v)})
        (out / "model" / "model_card.md").write_text(_card(cfg, recipe, summary, threshold, run_id, opts))
        mlflow.log_artifacts(str(out / "model"), "model")
        # the issue lists these at the run's top level too; the registry reads model/
        for name in ("model.pth", "model.onnx", "scaler.json", "feature_names.json", "model_card.md"):
            mlflow.log_artifact(str(out / "model" / name))
        mlflow.log_artifacts(str(out / "evaluation"), "evaluation")
        mlflow.log_artifacts(str(out / "checkpoints"), "checkpoints")
        mlflow.log_dict(summary["subgroups"], "evaluation/subgroups.json")
        mlflow.set_tags(
            {
                "git_commit": git_commit(),
                "data_version": version,
                "training_duration": f"{recipe.train_seconds:.1f}s",
                "feature_set_hash": recipe.features.hash,
                "gates.passed": str(gate_result.passed).lower(),
                "gates.reasons": "; ".join(gate_result.reasons) or "none",
            }
        )
        decision = _decide(cfg, client, recipe, gate_result, summary["metrics"]["test_auroc"])
        mlflow.log_dict(asdict(decision), "evaluation/promotion_decision.json")
        mlflow.set_tag("candidate", str(decision.promote).lower())
        mlflow.set_tag("promotion.reason", decision.reason)
        if decision.production_auroc is not None:
            mlflow.log_metric("production_test_auroc", decision.production_auroc)
        result: dict[str, Any] = {"run_id": run_id, "decision": asdict(decision), "registered_version": None}
        if opts.register and decision.promote:
            result["registered_version"] = registry.register_candidate(
                client,
                t.registered_model,
                run_id,
                str(active.info.artifact_uri),
                {
                    "feature_set_hash": recipe.features.hash,
                    "test_auroc": f"{summary['metrics']['test_auroc']:.6f}",
                    "data_version": version,
                },
            )
        mlflow.log_metric("total_seconds", seconds)
    return result


def _decide(
    cfg: TrainConfig, client: Any, recipe: TrainRecipe, gate_result: GateResult, auroc_new: float
) -> Decision:
    from ml import registry
    from ml.metrics import auroc

    prod_auroc: float | None = None
    if gate_result.passed:
        prod = registry.aliased(client, cfg.params.training.registered_model, registry.PRODUCTION)
        if prod is not None and prod.feature_set_hash == recipe.features.hash:
            p_prod, _ = onnx_export.score(onnx_export.session(prod.onnx_path), recipe.test_set.x)
            prod_auroc = auroc(recipe.test_set.y, p_prod)
    return compare_with_production(cfg.params.gates, gate_result, auroc_new, prod_auroc)


def final_line(summary: dict[str, Any]) -> str:
    m = summary["metrics"]
    keep = {
        k: m[k]
        for k in (
            "test_auroc",
            "test_auprc",
            "test_ece",
            "latency_p95_ms",
            "onnx_parity_max_abs_diff",
        )
    }
    return json.dumps(
        {
            **keep,
            "gates_passed": summary["gates"]["passed"],
            "gate_reasons": summary["gates"]["reasons"],
            "device": summary["device"],
            "cuda_available": torch.cuda.is_available(),
            "epochs_run": summary["epochs_run"],
            "best_epoch": summary["best_epoch"],
            "seed": summary["seed"],
            "rows": summary["rows"],
            "run_id": summary.get("run_id"),
            "decision": (summary.get("decision") or {}).get("reason"),
            "registered_version": summary.get("registered_version"),
            "train_seconds": round(summary["train_seconds"], 2),
            "seconds": round(summary["seconds"], 2),
        },
        default=float,
    )
