"""Where a Spark job's time goes, from Spark's own event log (used by the features benchmarks).

`event_log_conf(dir)` gives the settings that make the session write an uncompressed JSON event log;
the benchmark labels each phase with `SparkContext.setJobDescription`, and `profile(dir)` reads the
log back and sums, per phase, the wall time of the stages by kind:

- ``read``: stages that scan Parquet (FileScanRDD), including their narrow transforms and the map
  side of the next shuffle;
- ``write``: the last stage of a job whose SQL plan writes files (InsertIntoHadoopFsRelationCommand);
  it also runs whatever transform follows the last shuffle;
- ``python``: shuffle-reading stages whose plan runs Python (applyInPandas: the feature kernel);
- ``shuffle``: every other stage that reads a shuffle (de-duplication, windows, joins, aggregates);
- ``other``: the rest (file listing, broadcast).

Stage wall times are the union of stage intervals per kind (two stages of one kind that overlap in
time are not counted twice); ``driver_s`` is the phase's wall time not covered by any stage (query
planning, Py4J, collecting results, pyarrow work on the driver). Task time (executor run time and
CPU time summed over tasks) is given too, because stages of different kinds can run concurrently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def event_log_conf(directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    return {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.compress": "false",
        "spark.eventLog.dir": directory.resolve().as_uri(),
    }


def _events(directory: Path) -> list[dict[str, Any]]:
    files = sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.startswith("."))
    out: list[dict[str, Any]] = []
    for f in files:
        if f.name.startswith("appstatus"):
            continue
        with f.open() as fh:
            for line in fh:
                if line.strip():
                    out.append(json.loads(line))
    return out


def _union(intervals: list[tuple[int, int]]) -> int:
    total, end = 0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def profile(directory: Path, phase_wall_s: dict[str, float]) -> dict[str, Any]:
    """Per phase (job description): stage wall seconds and task seconds by kind, driver seconds."""
    ev = _events(directory)
    plans: dict[int, str] = {}
    job_of_stage: dict[int, tuple[str, int | None, bool]] = {}
    for e in ev:
        kind = e["Event"]
        if kind.endswith("SparkListenerSQLExecutionStart"):
            plans[int(e["executionId"])] = str(e.get("physicalPlanDescription", ""))
        elif kind == "SparkListenerJobStart":
            props = e.get("Properties") or {}
            desc = str(props.get("spark.job.description") or "unlabelled")
            exec_id = props.get("spark.sql.execution.id")
            last = max(e["Stage IDs"]) if e["Stage IDs"] else -1
            for s in e["Stage IDs"]:
                job_of_stage[s] = (desc, int(exec_id) if exec_id is not None else None, s == last)
    task: dict[tuple[str, str], list[float]] = {}
    stage_kind: dict[int, tuple[str, str]] = {}
    intervals: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for e in ev:
        if e["Event"] != "SparkListenerStageCompleted":
            continue
        si = e["Stage Info"]
        sid = si["Stage ID"]
        desc, exec_id, is_last = job_of_stage.get(sid, ("unlabelled", None, False))
        names = " ".join(r.get("Name", "") + " " + r.get("Callsite", "") for r in si.get("RDD Info", []))
        plan = plans.get(exec_id, "") if exec_id is not None else ""
        if "FileScanRDD" in names:
            k = "read"
        elif is_last and "InsertIntoHadoopFsRelationCommand" in plan:
            k = "write"
        elif "ShuffledRowRDD" in names and ("ArrowEvalPython" in plan or "InPandas" in plan):
            k = "python"
        elif "ShuffledRowRDD" in names:
            k = "shuffle"
        else:
            k = "other"
        stage_kind[sid] = (desc, k)
        if si.get("Submission Time") and si.get("Completion Time"):
            intervals.setdefault((desc, k), []).append((si["Submission Time"], si["Completion Time"]))
    for e in ev:
        if e["Event"] != "SparkListenerTaskEnd":
            continue
        key = stage_kind.get(e["Stage ID"])
        m = e.get("Task Metrics") or {}
        if key is None or not m:
            continue
        acc = task.setdefault(key, [0.0, 0.0, 0.0])
        acc[0] += m.get("Executor Run Time", 0) / 1000
        acc[1] += m.get("Executor CPU Time", 0) / 1e9
        acc[2] += 1
    out: dict[str, Any] = {}
    for phase, wall in phase_wall_s.items():
        kinds = sorted({k for (d, k) in intervals if d == phase})
        all_iv = [iv for (d, _), ivs in intervals.items() if d == phase for iv in ivs]
        covered = _union(all_iv) / 1000
        out[phase] = {
            "wall_s": round(wall, 2),
            "stage_wall_s": {k: round(_union(intervals[(phase, k)]) / 1000, 2) for k in kinds},
            "task_run_s": {k: round(task.get((phase, k), [0, 0, 0])[0], 2) for k in kinds},
            "task_cpu_s": {k: round(task.get((phase, k), [0, 0, 0])[1], 2) for k in kinds},
            "tasks": {k: int(task.get((phase, k), [0, 0, 0])[2]) for k in kinds},
            "stages": sum(1 for v in stage_kind.values() if v[0] == phase),
            "driver_s": round(max(wall - covered, 0.0), 2),
        }
    return out
