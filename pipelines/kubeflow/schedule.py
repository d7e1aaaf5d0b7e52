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

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ml.params import Pipeline

PIPELINE_YAML = Path(__file__).with_name("pipeline.yaml")
EXPERIMENT = "aepred-training"
REASONS = ("schedule", "drift", "performance", "manual")


WEEKLY_JOB = "aepred-weekly-retraining"
# KFP's cron (robfig/cron, six fields, seconds first): numbers, `*`, `?`, ranges, lists and steps.
_FIELDS = (
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("dow", 0, 6),
)


def _cron_field(text: str, lo: int, hi: int, name: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body in ("*", "?"):
            a, b = lo, hi
        elif "-" in body:
            a, b = (int(x) for x in body.split("-", 1))
        else:
            a = int(body)
            b = hi if step_text else a
        if not (lo <= a <= b <= hi) or step < 1:
            raise ValueError(f"cron {name} field {text!r} is outside {lo}-{hi}")
        values.update(range(a, b + 1, step))
    return frozenset(values)


def cron_fire_times(cron: str, after: datetime, count: int, tz: str) -> list[datetime]:
    """The next `count` instants after `after` at which KFP fires `cron` when its controller's
    CRON_SCHEDULE_TIMEZONE is `tz` (robfig/cron: day-of-month and day-of-week are ORed when both are
    restricted). Minute resolution search; the seconds field must name one second."""
    from zoneinfo import ZoneInfo

    fields = cron.split()
    if len(fields) != 6:
        raise ValueError(f"KFP cron needs six fields (seconds first), got {cron!r}")
    sec, minute, hour, dom, month, dow = (
        _cron_field(f, lo, hi, name) for f, (name, lo, hi) in zip(fields, _FIELDS, strict=True)
    )
    if len(sec) != 1:
        raise ValueError(f"cron {cron!r}: a weekly schedule names one second")
    zone = ZoneInfo(tz)
    restricted_dom, restricted_dow = fields[3] not in ("*", "?"), fields[5] not in ("*", "?")
    t = after.astimezone(zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
    out: list[datetime] = []
    for _ in range(60 * 24 * 366 * 5):
        day_ok = (
            (t.day in dom or (t.weekday() + 1) % 7 in dow)
            if restricted_dom and restricted_dow
            else (t.day in dom and (t.weekday() + 1) % 7 in dow)
        )
        if t.month in month and day_ok and t.hour in hour and t.minute in minute:
            out.append(t.replace(second=min(sec)))
            if len(out) == count:
                return out
        t += timedelta(minutes=1)
    raise ValueError(f"cron {cron!r} does not fire within five years")


def recurring_run_spec(cfg: Pipeline, *, source: str, service_url: str = "") -> dict[str, Any]:
    """Keyword arguments of `kfp.Client.create_recurring_run` for the weekly run, from params.yaml
    `pipeline` (cron, max concurrency, catch-up). The cron's time zone is not an argument of the KFP
    API: its scheduledworkflow controller reads every cron in CRON_SCHEDULE_TIMEZONE
    (`cronScheduleTimezone` of the pipeline-install-config, UTC by default), which must equal
    `pipeline.schedule_timezone`; `schedule_definition` reports it beside these arguments."""
    fields = cfg.schedule_cron.split()
    if len(fields) != 6:
        raise ValueError(f"KFP cron needs six fields (seconds first), got {cfg.schedule_cron!r}")
    return {
        "job_name": WEEKLY_JOB,
        "description": (
            f"Weekly retraining on the last {cfg.training_days} days "
            f"(cron {cfg.schedule_cron} in {cfg.schedule_timezone})"
        ),
        "cron_expression": cfg.schedule_cron,
        "max_concurrency": cfg.schedule_max_concurrency,
        "no_catchup": not cfg.schedule_catchup,
        "pipeline_package_path": str(PIPELINE_YAML),
        "params": {
            "start_date": "",
            "end_date": "[[ScheduledTime.2006-01-02T15:04:05Z]]",
            "source": source,
            "service_url": service_url,
        },
        "enabled": True,
    }


def schedule_definition(cfg: Pipeline, *, source: str, service_url: str = "") -> dict[str, Any]:
    """What `schedule --dry-run` prints: the recurring run, its experiment, the controller time zone
    it assumes and its next fire times."""
    spec = recurring_run_spec(cfg, source=source, service_url=service_url)
    return {
        "experiment": EXPERIMENT,
        "recurring_run": spec,
        "controller_timezone": cfg.schedule_timezone,
        "next_runs": [
            t.isoformat()
            for t in cron_fire_times(cfg.schedule_cron, datetime.now(UTC), 3, cfg.schedule_timezone)
        ],
    }


def create_weekly(client: Any, cfg: Pipeline, *, source: str, service_url: str = "") -> Any:
    """Creates (or reuses) the experiment and the weekly recurring run on a `kfp.Client`."""
    exp = client.create_experiment(EXPERIMENT)
    return client.create_recurring_run(
        experiment_id=exp.experiment_id, **recurring_run_spec(cfg, source=source, service_url=service_url)
    )


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
