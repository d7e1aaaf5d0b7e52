"""How the training pipeline is started (docs/pipelines.md, "Schedules"):

- weekly: a KFP recurring run, Mondays 02:00 UTC (`params.yaml` pipeline.schedule_cron), whose
  end_date is the scheduled time (`[[ScheduledTime...]]`, substituted by KFP) and start_date is empty
  (= end minus pipeline.training_days);
- decay: the service's TrainingSupervisor (issue 9) submits one run with reason drift|performance for
  the last training_days days;
- manual: `python -m pipelines.kubeflow run --host ... --reason manual` (or POST /retrain).

Without a KFP endpoint, `run --local` executes the same pipeline with kfp's SubprocessRunner.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

PIPELINE_YAML = Path(__file__).with_name("pipeline.yaml")
EXPERIMENT = "aepred-training"
REASONS = ("schedule", "drift", "performance", "manual")


def recurring_run_spec(cron: str, *, source: str, service_url: str = "") -> dict[str, Any]:
    """Keyword arguments of `kfp.Client.create_recurring_run` for the weekly run."""
    fields = cron.split()
    if len(fields) != 6:
        raise ValueError(f"KFP cron needs six fields (seconds first), got {cron!r}")
    return {
        "job_name": "aepred-weekly-retraining",
        "description": "Weekly retraining on the last pipeline.training_days days (Monday 02:00 UTC)",
        "cron_expression": cron,
        "max_concurrency": 1,
        "no_catchup": True,
        "pipeline_package_path": str(PIPELINE_YAML),
        "params": {
            "start_date": "",
            "end_date": "[[ScheduledTime.2006-01-02T15:04:05Z]]",
            "source": source,
            "service_url": service_url,
        },
        "enabled": True,
    }


def run_arguments(
    reason: str,
    now: datetime,
    training_days: int,
    *,
    source: str,
    baseline_model_id: str = "",
    service_url: str = "",
) -> tuple[str, dict[str, Any]]:
    """Run name and arguments of a one-off run (decay trigger or manual) at trial/processing time
    `now` (injected: the caller's clock)."""
    if reason not in REASONS:
        raise ValueError(f"reason {reason!r} is not one of {REASONS}")
    end = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    start = end - timedelta(days=training_days)
    name = f"retrain-{now.strftime('%Y%m%d-%H%M%S')}-{reason}"
    return name, {
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "source": source,
        "baseline_model_id": baseline_model_id,
        "service_url": service_url,
    }
