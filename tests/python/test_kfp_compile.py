"""The Kubeflow pipeline (issue 10): the committed pipeline.yaml is what the code compiles to; the
components, GPU request, parameters, outputs and the run windows are the ones docs/pipelines.md names;
the weekly recurring run is tested in test_kfp_schedule.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from ml.params import load_params
from pipelines.kubeflow import steps
from pipelines.kubeflow.__main__ import compile_pipeline
from pipelines.kubeflow.schedule import PIPELINE_YAML, run_arguments


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("kfp") / "pipeline.yaml"
    compile_pipeline(out)
    return out.read_text()


def test_committed_yaml_is_current(compiled: str) -> None:
    assert PIPELINE_YAML.read_text() == compiled, (
        "pipelines/kubeflow/pipeline.yaml is stale: run `python -m pipelines.kubeflow compile`"
    )


def test_components_parameters_and_outputs(compiled: str) -> None:
    spec = yaml.safe_load(compiled)
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {
        "provenance",
        "validate-data",
        "feature-engineering",
        "train",
        "evaluate",
        "register",
        "deploy",
    }
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert {"start_date", "end_date", "params", "baseline_model_id"} <= set(params)
    outputs = spec["root"]["outputDefinitions"]
    assert set(outputs["artifacts"]) == {"model", "evaluation_report"}
    assert set(outputs["parameters"]) == {"decision", "dvc_data_version", "git_commit", "registered_version"}
    # The DAG's order: data -> features -> train -> evaluate -> register -> deploy.
    deps = {name: set(t.get("dependentTasks", [])) for name, t in tasks.items()}
    assert "validate-data" in deps["feature-engineering"]
    assert "feature-engineering" in deps["train"]
    assert {"train", "feature-engineering"} <= deps["evaluate"]
    assert "evaluate" in deps["register"]
    assert "register" in deps["deploy"]


def test_training_asks_for_a_gpu(compiled: str) -> None:
    spec = yaml.safe_load(compiled)
    executor = spec["deploymentSpec"]["executors"]["exec-train"]["container"]
    accel = executor["resources"]["accelerator"]
    assert accel["resourceType"] == "nvidia.com/gpu"
    assert int(accel["resourceCount"]) == 1
    for name, ex in spec["deploymentSpec"]["executors"].items():
        assert ex["container"]["image"] == "aepred-training:0.1.0", name


def test_scheduled_and_triggered_windows() -> None:
    days = load_params().pipeline.training_days
    # A scheduled run: end = the scheduled time floored to midnight UTC, start = end - training_days.
    start, end = steps.window("", "2024-03-04T02:00:00Z", days)
    assert end == datetime(2024, 3, 4, tzinfo=UTC)
    assert (end - start).days == days
    with pytest.raises(ValueError, match="macro"):
        steps.window("", "[[ScheduledTime]]", days)
    with pytest.raises(ValueError, match="before"):
        steps.window("2024-03-04T00:00:00Z", "2024-03-01T00:00:00Z", days)
    # The decay trigger: the injected clock's day, inclusive.
    name, args = run_arguments("drift", datetime(2024, 3, 6, 13, 5, tzinfo=UTC), days, source="lake")
    assert name == "retrain-20240306-130500-drift"
    assert args["end_date"] == "2024-03-07T00:00:00+00:00"
    assert steps.window(args["start_date"], args["end_date"], days)[0] == datetime(2024, 3, 7, tzinfo=UTC) - (
        datetime(2024, 3, 7, tzinfo=UTC) - steps.instant(args["start_date"])
    )
    with pytest.raises(ValueError, match="reason"):
        run_arguments("whim", datetime(2024, 3, 6, tzinfo=UTC), days, source="lake")


def test_params_overrides_are_validated(tmp_path: Path) -> None:
    p = steps.write_params({"pipeline": {"simulate": {"patients": 3}}}, tmp_path / "p.yaml")
    cfg = load_params(p).pipeline
    assert cfg.simulate.patients == 3 and cfg.simulate.days == load_params().pipeline.simulate.days
    with pytest.raises(Exception, match="no_such_key"):
        steps.write_params({"training": {"no_such_key": 1}}, tmp_path / "bad.yaml")
