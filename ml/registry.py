"""The MLflow model registry: candidates, the `staging` and `production` aliases.

A registered version's source is the run's ``model/`` artifact folder: model.onnx (the graph the
service runs), model.pth, scaler.json and feature_names.json. Version tags carry the feature-set
hash, so the service can refuse a version whose hash differs from its running definition.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

STAGING = "staging"
PRODUCTION = "production"


@dataclass(frozen=True)
class AliasedModel:
    version: str
    run_id: str
    onnx_path: Path
    feature_set_hash: str


def aliased(client: MlflowClient, name: str, alias: str, dst: Path | None = None) -> AliasedModel | None:
    """The version holding ``alias`` with its ONNX file downloaded, or None when nobody holds it."""
    try:
        mv = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    dst = dst or Path(tempfile.mkdtemp(prefix=f"aepred-{alias}-"))
    local = client.download_artifacts(str(mv.run_id), "model/model.onnx", str(dst))
    return AliasedModel(
        version=str(mv.version),
        run_id=str(mv.run_id),
        onnx_path=Path(local),
        feature_set_hash=str((mv.tags or {}).get("feature_set_hash", "")),
    )


def register_candidate(
    client: MlflowClient, name: str, run_id: str, artifact_uri: str, tags: dict[str, str]
) -> str:
    """Creates a version from the run's model/ folder, sets `staging` on it; returns the version."""
    try:
        client.create_registered_model(
            name, description="aepred adverse-event risk model (ONNX, preprocessing inside)"
        )
    except MlflowException as e:
        if "RESOURCE_ALREADY_EXISTS" not in str(e.error_code):
            raise
    mv = client.create_model_version(name, source=f"{artifact_uri}/model", run_id=run_id, tags=tags)
    client.set_registered_model_alias(name, STAGING, str(mv.version))
    return str(mv.version)


def promote(client: MlflowClient, name: str, version: str) -> None:
    """Moves `production` to ``version`` (a human decision after staging; kept out of training)."""
    client.set_registered_model_alias(name, PRODUCTION, version)
    client.set_model_version_tag(name, version, "promoted_to", PRODUCTION)
