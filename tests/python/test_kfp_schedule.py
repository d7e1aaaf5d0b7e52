"""The weekly Kubeflow recurring run (issue 10, docs/pipelines.md "Schedules").

No Kubeflow cluster is reachable from this workplace, so nothing here creates a real recurring run.
What is checked: the definition (cron, time zone, max concurrency, catch-up) is what params.yaml
says; the cron fires Mondays 02:00 UTC; every parameter it sends is an input of the compiled
pipeline.yaml and every input it leaves out has a default there; and the arguments the scheduler
sends bind to the real `kfp.Client.create_recurring_run` signature of the pinned kfp. The client
itself is a recording stand-in in this unit test only (the KFP API server is not here)."""

from __future__ import annotations

import inspect
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kfp
import pytest
import yaml

from ml.params import Pipeline, load_params
from pipelines.kubeflow import __main__ as kfp_cli
from pipelines.kubeflow import steps
from pipelines.kubeflow.schedule import (
    EXPERIMENT,
    PIPELINE_YAML,
    WEEKLY_JOB,
    create_weekly,
    cron_fire_times,
    recurring_run_spec,
    schedule_definition,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def raw_params() -> dict[str, Any]:
    """params.yaml as written (not through the validating loader), to compare against."""
    section: dict[str, Any] = yaml.safe_load((ROOT / "params.yaml").read_text())["pipeline"]
    return section


@pytest.fixture(scope="module")
def cfg() -> Pipeline:
    return load_params().pipeline


class RecordingClient:
    """Stands in for kfp.Client (no KFP API server here): records what the scheduler sends."""

    def __init__(self, host: str | None = None) -> None:
        self.host = host
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_experiment(
        self, name: str, description: str | None = None, namespace: str | None = None
    ) -> Any:
        self.calls.append(("create_experiment", {"name": name}))
        return type("Experiment", (), {"experiment_id": "exp-1"})()

    def create_recurring_run(self, **kwargs: Any) -> Any:
        self.calls.append(("create_recurring_run", kwargs))
        return type("RecurringRun", (), {"recurring_run_id": "rr-1"})()


def test_definition_is_what_params_yaml_says(cfg: Pipeline, raw_params: dict[str, Any]) -> None:
    spec = recurring_run_spec(cfg, source="s3a://aepred-lake/")
    assert spec["job_name"] == WEEKLY_JOB
    assert spec["cron_expression"] == raw_params["schedule_cron"]
    assert spec["max_concurrency"] == raw_params["schedule_max_concurrency"] == 1
    # KFP's flag is the negation: no_catchup=True is "catch-up off".
    assert spec["no_catchup"] is (not raw_params["schedule_catchup"]) is True
    assert spec["enabled"] is True
    assert raw_params["schedule_timezone"] in spec["description"]
    definition = schedule_definition(cfg, source="s3a://aepred-lake/")
    assert definition["controller_timezone"] == raw_params["schedule_timezone"] == "UTC"
    assert definition["experiment"] == EXPERIMENT
    assert definition["recurring_run"] == spec
    # The scheduled time becomes end_date; start_date empty = end minus training_days.
    assert spec["params"]["start_date"] == ""
    assert spec["params"]["end_date"] == "[[ScheduledTime.2006-01-02T15:04:05Z]]"


def test_cron_fires_mondays_0200_utc(cfg: Pipeline) -> None:
    sunday = datetime(2024, 3, 3, 23, 0, tzinfo=UTC)
    fires = cron_fire_times(cfg.schedule_cron, sunday, 5, cfg.schedule_timezone)
    assert fires[0] == datetime(2024, 3, 4, 2, 0, tzinfo=UTC)
    for t in fires:
        assert t.utcoffset() == timedelta(0)
        assert (t.weekday(), t.hour, t.minute, t.second) == (0, 2, 0, 0), t
    assert {b - a for a, b in itertools.pairwise(fires)} == {timedelta(days=7)}
    # The time zone is the controller's, not the cron's: the same cron in Berlin is an hour earlier
    # in UTC in winter, which is why schedule_timezone must match CRON_SCHEDULE_TIMEZONE.
    berlin = cron_fire_times(cfg.schedule_cron, sunday, 1, "Europe/Berlin")[0]
    assert berlin.astimezone(UTC) == datetime(2024, 3, 4, 1, 0, tzinfo=UTC)
    # What a run fired at that instant trains on: the last training_days days up to Monday 00:00.
    start, end = steps.window("", fires[0].strftime("%Y-%m-%dT%H:%M:%SZ"), cfg.training_days)
    assert end == datetime(2024, 3, 4, tzinfo=UTC)
    assert end - start == timedelta(days=cfg.training_days)


def test_cron_rejects_what_kfp_would_not_read() -> None:
    with pytest.raises(ValueError, match="six fields"):
        cron_fire_times("0 2 * * 1", datetime(2024, 1, 1, tzinfo=UTC), 1, "UTC")
    with pytest.raises(ValueError, match="hour field '25'"):
        cron_fire_times("0 0 25 * * 1", datetime(2024, 1, 1, tzinfo=UTC), 1, "UTC")
    bad = load_params().pipeline.model_copy(update={"schedule_cron": "0 2 * * 1"})
    with pytest.raises(ValueError, match="six fields"):
        recurring_run_spec(bad, source="x")


def test_schedule_parameters_are_inputs_of_the_compiled_pipeline(cfg: Pipeline) -> None:
    spec = recurring_run_spec(cfg, source="s3a://aepred-lake/", service_url="https://aepred")
    assert Path(spec["pipeline_package_path"]) == PIPELINE_YAML
    compiled = yaml.safe_load(PIPELINE_YAML.read_text())
    inputs = compiled["root"]["inputDefinitions"]["parameters"]
    assert set(spec["params"]) <= set(inputs), set(spec["params"]) - set(inputs)
    for name in spec["params"]:
        assert inputs[name]["parameterType"] == "STRING", name
    # KFP refuses a run that leaves out a required input: everything not sent has a default.
    for name in set(inputs) - set(spec["params"]):
        assert inputs[name].get("isOptional") or "defaultValue" in inputs[name], name


def test_scheduler_sends_arguments_the_real_kfp_client_accepts(cfg: Pipeline) -> None:
    client = RecordingClient()
    job = create_weekly(client, cfg, source="s3a://aepred-lake/", service_url="https://aepred")
    assert job.recurring_run_id == "rr-1"
    assert [c[0] for c in client.calls] == ["create_experiment", "create_recurring_run"]
    assert client.calls[0][1] == {"name": EXPERIMENT}
    sent = client.calls[1][1]
    assert sent["experiment_id"] == "exp-1"
    # Binds to the installed kfp's signature: no unknown or missing keyword.
    bound = inspect.signature(kfp.Client.create_recurring_run).bind(None, **sent)
    assert bound.arguments["cron_expression"] == cfg.schedule_cron
    assert bound.arguments["max_concurrency"] == cfg.schedule_max_concurrency
    assert bound.arguments["no_catchup"] is True
    assert "interval_second" not in sent  # kfp refuses both a cron and an interval
    assert bound.arguments["params"]["service_url"] == "https://aepred"


def test_schedule_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    clients: list[RecordingClient] = []

    def fake_client(host: str | None = None, **_: Any) -> RecordingClient:
        clients.append(RecordingClient(host))
        return clients[-1]

    assert kfp_cli.main(["schedule", "--host", "https://kfp.example", "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["recurring_run"]["cron_expression"] == load_params().pipeline.schedule_cron
    assert len(dry["next_runs"]) == 3
    assert all(datetime.fromisoformat(t).weekday() == 0 for t in dry["next_runs"])
    assert clients == []  # a dry run talks to no cluster

    monkeypatch.setattr(kfp, "Client", fake_client)
    assert kfp_cli.main(["schedule", "--host", "https://kfp.example", "--source", "s3a://lake/"]) == 0
    out = json.loads(capsys.readouterr().out)
    cfg = load_params().pipeline
    assert out == {
        "recurring_run_id": "rr-1",
        "cron": cfg.schedule_cron,
        "controller_timezone": cfg.schedule_timezone,
    }
    assert [c.host for c in clients] == ["https://kfp.example"]
    sent = clients[0].calls[1][1]
    assert sent["params"]["source"] == "s3a://lake/"
    assert sent == {"experiment_id": "exp-1", **dry["recurring_run"], "params": sent["params"]}
