"""Where MLflow tracking and the model registry live.

Two real modes, chosen in this order:

1. ``MLFLOW_TRACKING_URI`` set: used as is (the stack's server is ``http://127.0.0.1:55000``,
   backed by PostgreSQL and the S3 object store; ``aepred stack up`` starts it).
2. Otherwise the **embedded default**: a SQLite database and a local artifact folder under
   ``.local/mlflow/``. No server is needed; the registry and aliases work the same way. This is a
   supported mode for a laptop or a single-node trial site, not a test shortcut.

``python -m ml.tracking smoke`` logs one run and prints its ids as JSON; the cross-language
integration test uses it to prove that a run written from Python is readable over REST.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ml.paths import LOCAL_DIR

EXPERIMENT = "clinical-adverse-events"


@dataclass(frozen=True)
class TrackingTarget:
    tracking_uri: str
    artifact_location: str | None
    mode: str  # "server" or "embedded"


def resolve_target(local_dir: Path = LOCAL_DIR) -> TrackingTarget:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return TrackingTarget(tracking_uri=uri, artifact_location=None, mode="server")
    root = local_dir / "mlflow"
    root.mkdir(parents=True, exist_ok=True)
    artifacts = root / "artifacts"
    artifacts.mkdir(exist_ok=True)
    return TrackingTarget(
        tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        artifact_location=artifacts.as_uri(),
        mode="embedded",
    )


def configure(local_dir: Path = LOCAL_DIR) -> TrackingTarget:
    """Points the mlflow client at the resolved target; returns it."""
    import mlflow

    target = resolve_target(local_dir)
    mlflow.set_tracking_uri(target.tracking_uri)
    mlflow.set_registry_uri(target.tracking_uri)
    return target


def ensure_experiment(name: str, target: TrackingTarget) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=target.tracking_uri)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    return str(client.create_experiment(name, artifact_location=target.artifact_location))


def smoke(experiment: str, run_name: str, local_dir: Path = LOCAL_DIR) -> dict[str, str]:
    """Logs a run with a parameter, a metric series, a tag and an artifact; returns its ids."""
    import mlflow

    target = configure(local_dir)
    exp_id = ensure_experiment(experiment, target)
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
        mlflow.log_param("learning_rate", 0.001)
        for step, value in enumerate((0.71, 0.78, 0.81)):
            mlflow.log_metric("val_auroc", value, step=step)
        mlflow.set_tag("aepred.smoke", "true")
        mlflow.log_dict({"features": ["hr_mean_1h"]}, "feature_names.json")
        return {
            "run_id": run.info.run_id,
            "experiment_id": exp_id,
            "tracking_uri": target.tracking_uri,
            "mode": target.mode,
            "artifact_uri": run.info.artifact_uri or "",
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.tracking")
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("smoke", help="log one run and print its ids as JSON")
    s.add_argument("--experiment", default="aepred-smoke")
    s.add_argument("--run-name", default="smoke")
    sub.add_parser("where", help="print the resolved tracking target as JSON")
    args = parser.parse_args(argv)
    if args.cmd == "smoke":
        print(json.dumps(smoke(args.experiment, args.run_name)))
    else:
        t = resolve_target()
        print(
            json.dumps(
                {"tracking_uri": t.tracking_uri, "mode": t.mode, "artifact_location": t.artifact_location}
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
