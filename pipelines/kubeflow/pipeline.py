# KFP's DSL: untyped decorators, NamedTuple return annotations built inline (KFP reads them as types).
# mypy: disable-error-code="untyped-decorator,name-match,misc,call-arg,valid-type,unused-ignore"
"""The Kubeflow Pipelines v2 training pipeline (issue 10; FR-6, FR-9.2).

validate_data -> feature_engineering (Spark) -> train (GPU) -> evaluate -> register -> deploy

Each component is a thin shell over `pipelines.kubeflow.steps`, the code the DVC stages run, inside the
training image (deploy/docker/training.Dockerfile); `kfp.local.SubprocessRunner` runs the same
components in this virtual environment (tests/python/test_kfp_local_run.py).

Parameters: start_date, end_date (the data window, ISO 8601), params (overrides merged into
params.yaml and validated), baseline_model_id (registry version, `@alias`, `models:/name/version` or
"" for whoever holds `production`), source (a lake path/URI or `simulate`), service_url (the service
that canaries a new staging version; "" to skip), spark_master.
Outputs: the model, the evaluation report, the promote/reject decision, the DVC data version (DVC's
own hash of the features) and the git commit.

`pipeline.yaml` beside this file is the compiled form, committed; `python -m pipelines.kubeflow
compile` rewrites it and a test checks it is current.
"""

# No `from __future__ import annotations`: KFP reads the annotations as types.
from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

IMAGE = "aepred-training:0.1.0"
PIPELINE_NAME = "aepred-training"
GPU = "nvidia.com/gpu"


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def validate_data(
    start_date: str,
    end_date: str,
    source: str,
    params: dict,  # type: ignore[type-arg]
    raw: Output[Dataset],
    report: Output[Artifact],
) -> NamedTuple("Window", start=str, end=str, kafka_offsets=str):  # type: ignore[valid-type]
    """Raw snapshot of the window (bronze + enrollment, Kafka offsets) and its validation. An empty
    start_date means end_date minus params `pipeline.training_days` (the scheduled runs)."""
    import json
    from collections import namedtuple
    from pathlib import Path

    from ml.params import load_params
    from pipelines.kubeflow import steps

    p = steps.write_params(params, Path(raw.path).parent / "params.yaml")
    cfg = load_params(p).pipeline
    start, end = steps.window(start_date, end_date, cfg.training_days)
    sim = cfg.simulate
    manifest = steps.snapshot_raw(
        source, Path(raw.path), start, end, patients=sim.patients, days=sim.days, seed=sim.seed
    )
    result = steps.validate_raw(Path(raw.path), start, end)
    result["kafka_offsets"] = manifest["kafka_offsets"]
    Path(report.path).write_text(json.dumps(result, indent=1, sort_keys=True))
    raw.metadata.update({"snapshot": manifest["snapshot"], "patients": result["patients"]})
    out = namedtuple("Window", ["start", "end", "kafka_offsets"])
    return out(start.isoformat(), end.isoformat(), json.dumps(manifest["kafka_offsets"], sort_keys=True))


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def feature_engineering(
    start_date: str,
    end_date: str,
    params: dict,  # type: ignore[type-arg]
    spark_master: str,
    raw: Input[Dataset],
    features: Output[Dataset],
) -> NamedTuple("FeatureOutputs", dvc_data_version=str, feature_set_hash=str):  # type: ignore[valid-type]
    """Spark: bronze -> silver -> point-in-time features and labels (the offline feature store)."""
    import shutil
    import tempfile
    from collections import namedtuple
    from pathlib import Path

    from pipelines.kubeflow import steps

    start, end = steps.instant(start_date), steps.instant(end_date)
    with tempfile.TemporaryDirectory(prefix="aepred-lake-") as tmp:
        lake = Path(tmp)
        p = steps.write_params(params, lake / "params.yaml")
        for part in ("bronze", "enrollment"):
            shutil.copytree(Path(raw.path) / part, lake / part)
        steps.process_data(lake, start, end, p)
        result = steps.build_features(lake, start, end, Path(features.path), p, spark_master or None)
    version = steps.dvc_hash(Path(features.path))
    features.metadata.update({"rows": result["rows"], "positives": result["positives"], "dvc_md5": version})
    out = namedtuple("FeatureOutputs", ["dvc_data_version", "feature_set_hash"])
    return out(version, result["feature_set_hash"])


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train(
    params: dict,  # type: ignore[type-arg]
    data_version: str,
    features: Input[Dataset],
    model: Output[Model],
) -> str:
    """PyTorch training, ONNX export, gates, MLflow run (`python -m ml train`); returns the run id."""
    import json
    from pathlib import Path

    from pipelines.kubeflow import steps

    p = steps.write_params(params, Path(model.path).parent / "params.yaml")
    summary = steps.train(
        Path(features.path), Path(model.path), data_version=data_version, params=p, mlflow=True
    )
    run_id = str(json.loads((Path(model.path) / "summary.json").read_text()).get("run_id") or "")
    model.metadata.update(
        {"test_auroc": summary["metrics"]["test_auroc"], "device": summary["device"], "mlflow_run_id": run_id}
    )
    return run_id


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def evaluate(
    params: dict,  # type: ignore[type-arg]
    baseline_model_id: str,
    model: Input[Model],
    features: Input[Dataset],
    report: Output[Artifact],
    metrics: Output[Metrics],
) -> NamedTuple("EvaluateOutputs", decision=str, reason=str, test_auroc=float):  # type: ignore[valid-type]
    """Test metrics, gates and the promote/reject decision (against the baseline when given)."""
    import json
    from collections import namedtuple
    from pathlib import Path

    from pipelines.kubeflow import steps

    work = Path(report.path).parent
    p = steps.write_params(params, work / "params.yaml")
    baseline = steps.resolve_baseline(baseline_model_id, work / "baseline")
    result = steps.evaluate(
        Path(model.path), Path(features.path), baseline_onnx=baseline, baseline_id=baseline_model_id, params=p
    )
    Path(report.path).write_text(json.dumps(result, indent=1, sort_keys=True, default=float))
    for k, v in result["test"].items():
        metrics.log_metric(k, float(v))
    out = namedtuple("EvaluateOutputs", ["decision", "reason", "test_auroc"])
    decision = "promote" if result["promote"] else "reject"
    return out(decision, str(result["decision"]["reason"]), float(result["test"]["test_auroc"]))


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def register(decision: str, run_id: str, data_version: str, feature_set_hash: str, test_auroc: float) -> str:
    """A promoted model becomes a registry version holding `staging`; returns it ("" if rejected)."""
    from pipelines.kubeflow import steps

    return steps.register(
        run_id,
        decision == "promote",
        feature_set_hash=feature_set_hash,
        data_version=data_version,
        test_auroc=test_auroc,
    )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def deploy(version: str, service_url: str, git_commit: str) -> str:
    """Hands the staging version to the service for its canary; returns the deployment record."""
    import json

    from pipelines.kubeflow import steps

    record = steps.deploy(version, service_url)
    record["git_commit"] = git_commit
    return json.dumps(record, sort_keys=True)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def provenance() -> str:
    """The git commit of the code this run executes (the image's build arg on a cluster)."""
    from pipelines.kubeflow import steps

    return steps.git_commit()


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="aepred: validate -> features (Spark) -> train (GPU) -> evaluate -> register -> deploy",
)
def training_pipeline(
    start_date: str = "",
    end_date: str = "[[ScheduledTime.2006-01-02T15:04:05Z]]",
    params: dict = {},  # type: ignore[type-arg]  # noqa: B006  (KFP parameters are literals)
    baseline_model_id: str = "",
    source: str = "s3a://aepred-lake/",
    service_url: str = "",
    spark_master: str = "",
) -> NamedTuple(  # type: ignore[valid-type]
    "PipelineOutputs",
    model=Model,
    evaluation_report=Artifact,
    decision=str,
    dvc_data_version=str,
    git_commit=str,
    registered_version=str,
):
    commit = provenance().set_display_name("provenance")
    data = validate_data(start_date=start_date, end_date=end_date, source=source, params=params)
    data.set_display_name("data validation")
    feats = feature_engineering(
        start_date=data.outputs["start"],
        end_date=data.outputs["end"],
        params=params,
        spark_master=spark_master,
        raw=data.outputs["raw"],
    )
    feats.set_display_name("feature engineering (Spark)").set_cpu_limit("4").set_memory_limit("8G")
    trained = train(
        params=params, data_version=feats.outputs["dvc_data_version"], features=feats.outputs["features"]
    )
    trained.set_display_name("training").set_accelerator_type(GPU).set_accelerator_limit(1).set_memory_limit(
        "16G"
    )
    evaluated = evaluate(
        params=params,
        baseline_model_id=baseline_model_id,
        model=trained.outputs["model"],
        features=feats.outputs["features"],
    )
    evaluated.set_display_name("evaluation")
    registered = register(
        decision=evaluated.outputs["decision"],
        run_id=trained.outputs["Output"],
        data_version=feats.outputs["dvc_data_version"],
        feature_set_hash=feats.outputs["feature_set_hash"],
        test_auroc=evaluated.outputs["test_auroc"],
    )
    registered.set_display_name("registration")
    deployed = deploy(
        version=registered.output, service_url=service_url, git_commit=commit.output
    ).set_display_name("deployment")
    del deployed
    outputs = NamedTuple(  # noqa: UP014  (the same shape as the annotation KFP reads)
        "PipelineOutputs",
        model=Model,
        evaluation_report=Artifact,
        decision=str,
        dvc_data_version=str,
        git_commit=str,
        registered_version=str,
    )
    return outputs(
        model=trained.outputs["model"],
        evaluation_report=evaluated.outputs["report"],
        decision=evaluated.outputs["decision"],
        dvc_data_version=feats.outputs["dvc_data_version"],
        git_commit=commit.output,
        registered_version=registered.output,
    )
