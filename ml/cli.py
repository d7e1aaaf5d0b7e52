"""Command line: train, evaluate, register. Exit codes: 0 ok, 2 bad flags or data, 3 gates failed
(with --fail-on-gates)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ml.data import DataError
from ml.params import ParamsError, load_params
from ml.recipe import FlagError, TrainConfig, validate_config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ml")
    sub = parser.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="train, export ONNX, evaluate, gate, log to MLflow, optionally register")
    t.add_argument("--data", type=Path, help="training frame: .parquet, Parquet folder or .csv")
    t.add_argument(
        "--feature-store", type=Path, help="offline feature store root (issue 5) instead of --data"
    )
    t.add_argument("--start", help="with --feature-store: first snapshot time (inclusive)")
    t.add_argument("--end", help="with --feature-store: last snapshot time (exclusive)")
    t.add_argument(
        "--out", type=Path, default=Path(".local/train"), help="output folder (checkpoints, model)"
    )
    t.add_argument(
        "--test-data", type=Path, help="evaluate on this frame (another hospital) instead of a split"
    )
    t.add_argument("--label", default="label")
    t.add_argument("--horizon-hours", type=float)
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    t.add_argument("--seed", type=int)
    t.add_argument("--epochs", type=int, help="override params.yaml training.max_epochs")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--weight-decay", type=float, default=0.0, help="Adam L2 penalty (default 0)")
    t.add_argument("--threads", type=int, help="torch CPU threads")
    t.add_argument("--threshold-strategy", choices=["f1", "utility"])
    t.add_argument("--deterministic", action="store_true", help="bit-identical losses (CPU only)")
    t.add_argument("--no-mlflow", action="store_true", help="skip MLflow; write files only")
    t.add_argument(
        "--register", action="store_true", help="register as `staging` when gates and comparison pass"
    )
    t.add_argument("--data-version", help="DVC or feature-store version of --data (default: content hash)")
    t.add_argument("--run-name")
    t.add_argument("--params", type=Path, help="params.yaml to use")
    t.add_argument("--fail-on-gates", action="store_true", help="exit 3 when a gate fails")
    t.add_argument(
        "--drill-inverted-labels",
        action="store_true",
        help="rollback drill only: train and calibrate on 1 - label (the test set keeps the true labels), "
        "so the model is worse than chance by construction; never for a real model",
    )

    e = sub.add_parser("evaluate", help="score an ONNX model on a frame, print metrics as JSON")
    e.add_argument("--model", type=Path, required=True)
    e.add_argument("--data", type=Path, required=True)
    e.add_argument("--label", default="label")
    e.add_argument("--params", type=Path)

    r = sub.add_parser("register", help="registry aliases")
    r.add_argument("--promote", metavar="VERSION", help="move the `production` alias to VERSION")
    r.add_argument("--show", action="store_true", help="print who holds `staging` and `production`")
    r.add_argument("--params", type=Path)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        params = load_params(args.params)
        if args.cmd == "train":
            return _train(args, params)
        if args.cmd == "evaluate":
            return _evaluate(args, params)
        return _register(args, params)
    except (FlagError, ParamsError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace, params: object) -> int:
    from ml.params import Params
    from ml.train import Options, final_line, train

    assert isinstance(params, Params)
    cfg = TrainConfig(
        data=args.data,
        out_dir=args.out,
        params=params,
        device=args.device,
        seed=args.seed,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        label=args.label,
        deterministic=args.deterministic,
        threads=args.threads,
        test_data=args.test_data,
        horizon_hours=args.horizon_hours,
        threshold_strategy=args.threshold_strategy,
        weight_decay=args.weight_decay,
        feature_store=args.feature_store,
        start=args.start,
        end=args.end,
        drill_inverted_labels=args.drill_inverted_labels,
    )
    validate_config(cfg, mlflow_enabled=not args.no_mlflow, register=args.register)
    summary = train(
        cfg,
        Options(
            mlflow=not args.no_mlflow,
            register=args.register,
            data_version=args.data_version,
            run_name=args.run_name,
        ),
    )
    print(final_line(summary))
    return 3 if args.fail_on_gates and not summary["gates"]["passed"] else 0


def _evaluate(args: argparse.Namespace, params: object) -> int:
    from ml import onnx_export
    from ml.data import check_frame, load_frame
    from ml.evaluate import evaluate_scores
    from ml.params import Params

    assert isinstance(params, Params)
    meta = onnx_export.read_metadata(args.model)
    names = json.loads(meta["feature_names"])
    frame = load_frame(args.data)
    check_frame(frame, args.label)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise DataError(f"{args.data} lacks the model's features {missing[:5]}")
    x = frame[names].to_numpy(dtype=np.float32, na_value=np.nan)
    p, _ = onnx_export.score(onnx_export.session(args.model), x)
    metrics, _, gaps = evaluate_scores(
        frame[args.label].to_numpy(), p, frame, float(meta.get("threshold", 0.5)), params
    )
    print(json.dumps({"metrics": metrics, "gaps": gaps, "feature_set_hash": meta.get("feature_set_hash")}))
    return 0


def _register(args: argparse.Namespace, params: object) -> int:
    from mlflow.tracking import MlflowClient

    from ml import registry
    from ml.params import Params
    from ml.tracking import configure

    assert isinstance(params, Params)
    if args.promote and args.show:
        raise FlagError("--promote changes the aliases; it cannot be combined with --show")
    target = configure()
    client = MlflowClient(tracking_uri=target.tracking_uri)
    name = params.training.registered_model
    if args.promote:
        registry.promote(client, name, args.promote)
    out: dict[str, str | None] = {}
    for alias in (registry.STAGING, registry.PRODUCTION):
        try:
            out[alias] = str(client.get_model_version_by_alias(name, alias).version)
        except Exception:
            out[alias] = None
    print(json.dumps({"model": name, "aliases": out, "tracking_uri": target.tracking_uri}))
    return 0
