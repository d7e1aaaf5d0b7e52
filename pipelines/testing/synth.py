"""Contract-exact bronze fixtures for tests and the benchmark, without Kafka or the TypeScript side.

`synthesize`: a small deterministic trial (vectorized numpy), with prodromes before adverse events
so features carry signal, optional faults (duplicates, out-of-range values, future timestamps,
unknown patients, late lab reports) for the silver rules. (NDJSON from the simulator or importers is
converted by `pipelines.kubeflow.steps.ndjson_table`.)

It writes `<lake>/bronze/<topic>/date=YYYY-MM-DD/part-p000-o<first>-<last>.parquet` exactly as
contracts/bronze.md specifies (Arrow schema, ZSTD, one row group, file metadata), plus the enrollment
table as `<lake>/enrollment/enrollment.ndjson` (the embedded mode's enrollment source).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines import bronze

MIN_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
BATCH = 200_000  # rows per fixture "micro-batch" file; the real ingester closes at 1,000 or 30 s
LABS = (  # code, unit, baseline mean, sd, (alternate unit, factor to alternate)
    ("ALT", "U/L", 25.0, 8.0, None),
    ("AST", "U/L", 24.0, 7.0, None),
    ("BILI", "mg/dL", 0.7, 0.2, ("umol/L", 17.1)),
    ("CREAT", "mg/dL", 0.9, 0.2, ("umol/L", 88.4)),
    ("WBC", "10^3/uL", 7.0, 1.5, ("GI/L", 1.0)),
    ("NEUT", "10^3/uL", 4.2, 1.0, None),
    ("PLAT", "10^3/uL", 250.0, 50.0, None),
    ("HGB", "g/dL", 13.5, 1.2, None),
)
AE_TYPES = ("hepatotoxicity", "acute_kidney_injury", "neutropenia", "hypotension", "tachyarrhythmia")
CONMEDS = ("clarithromycin", "ondansetron", "amlodipine", "ibuprofen", "lisinopril", "furosemide")


@dataclass(frozen=True)
class Fixture:
    lake: Path
    start_ms: int
    days: int
    patients: list[str]
    rows: dict[str, int]


def _uuid(prefix: int, idx: np.ndarray) -> list[str]:
    # Deterministic, contract-valid lower-case UUIDs: topic prefix + running index.
    return [f"{prefix:08x}-0000-4000-8000-{i:012x}" for i in idx.tolist()]


def _ts(ms: np.ndarray) -> pa.Array:
    return pa.array(ms.astype("datetime64[ms]"), type=bronze.TS)


def _lineage(
    topic: str, n: int, offset0: int, pids: list[str] | pa.Array, ingested_ms: int
) -> dict[str, Any]:
    off = np.arange(offset0, offset0 + n, dtype=np.int64)
    return {
        "_kafka_topic": pa.array([topic] * n, pa.string()),
        "_kafka_partition": pa.array(np.zeros(n, np.int32)),
        "_kafka_offset": pa.array(off),
        "_kafka_timestamp": _ts(np.full(n, ingested_ms, np.int64)),
        "_kafka_key": pids,
        "_ingested_at": _ts(np.full(n, ingested_ms, np.int64)),
    }


def _table(topic: str, cols: dict[str, Any], n: int) -> pa.Table:
    sch = bronze.schema(topic)
    arrays = []
    for f in sch:
        v = cols.get(f.name)
        if v is None:
            arrays.append(pa.nulls(n, f.type))
        elif isinstance(v, pa.Array | pa.ChunkedArray):
            arrays.append(v.cast(f.type))
        else:
            arrays.append(pa.array(v, type=f.type))
    return pa.Table.from_arrays(arrays, schema=sch)


def write_topic(lake: Path, topic: str, table: pa.Table) -> int:
    """Splits by UTC event date and micro-batch; names files by first/last offset of each batch."""
    if table.num_rows == 0:
        return 0
    ev = table.column(bronze.event_time_column(topic))
    days = pc.cast(ev, pa.int64()).to_numpy() // DAY_MS
    offsets = table.column("_kafka_offset").to_numpy()
    for b0 in range(0, table.num_rows, BATCH):
        b1 = min(b0 + BATCH, table.num_rows)
        first, last = int(offsets[b0]), int(offsets[b1 - 1])
        part = table.slice(b0, b1 - b0)
        bdays = days[b0:b1]
        for d in np.unique(bdays):
            date = str(np.datetime64(int(d), "D"))
            sub = part.filter(pa.array(bdays == d))
            out = lake / "bronze" / topic / f"date={date}"
            out.mkdir(parents=True, exist_ok=True)
            meta = {
                "aepred.bronze_version": "1",
                "aepred.topic": topic,
                "aepred.partition": "0",
                "aepred.first_offset": str(first),
                "aepred.last_offset": str(last),
                "aepred.schema_version": "1.0",
            }
            sub = sub.replace_schema_metadata({**(sub.schema.metadata or {}), **meta})
            pq.write_table(
                sub,
                out / f"part-p000-o{first:020d}-{last:020d}.parquet",
                compression="zstd",
                row_group_size=max(sub.num_rows, 1),
            )
    return int(table.num_rows)


def write_enrollment(lake: Path, rows: list[dict[str, Any]]) -> Path:
    p = lake / "enrollment" / "enrollment.ndjson"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return p


def _day_chunks(days: int) -> Iterator[int]:
    yield from range(days)


def synthesize(
    lake: Path,
    *,
    patients: int = 20,
    days: int = 5,
    seed: int = 7,
    start: str = "2024-01-01",
    vital_interval_min: int = 5,
    sites: int = 3,
    faults: bool = False,
) -> Fixture:
    """Writes a synthetic trial's bronze + enrollment under `lake`; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    start_ms = int(np.datetime64(start, "ms").astype(np.int64))
    pids = [f"P{i:05d}" for i in range(patients)]
    site_of = [f"S{(i % sites) + 1:02d}" for i in range(patients)]
    enroll_day = rng.integers(0, max(1, days // 10), patients)
    enrollment = [
        {
            "patient_id": pid,
            "trial_id": "SIM01",
            "site_id": site_of[i],
            "arm": "treatment" if i % 2 == 0 else "control",
            "arm_role": "treatment" if i % 2 == 0 else "control",
            "enrollment_date": str(
                np.datetime64(start_ms + int(enroll_day[i]) * DAY_MS, "ms").astype("datetime64[D]")
            ),
            "age": int(rng.integers(30, 85)),
            "sex": "M" if rng.random() < 0.5 else "F",
            "height_cm": round(float(rng.normal(170, 9)), 1),
            "weight_kg": round(float(rng.normal(78, 12)), 1),
            "comorbidities": sorted(
                rng.choice(
                    ["diabetes", "hypertension", "ckd", "copd"], int(rng.integers(0, 3)), replace=False
                ).tolist()
            ),
            "source": "synth",
        }
        for i, pid in enumerate(pids)
    ]
    write_enrollment(lake, enrollment)

    # Adverse events: about one per patient-month, each with a 24 h prodrome in the vitals.
    n_ae = rng.poisson(max(1.0, patients * days / 30.0))
    ae_pid = rng.integers(0, patients, n_ae)
    ae_ms = start_ms + rng.integers(DAY_MS if days > 1 else 0, days * DAY_MS, n_ae)
    ae_delay = rng.integers(1, 48, n_ae) * HOUR_MS
    ae_type = rng.integers(0, len(AE_TYPES), n_ae)
    prodrome = rng.random(n_ae) < 0.7  # some events come without warning

    base_hr = rng.normal(75, 8, patients)
    base_sbp = rng.normal(125, 12, patients)
    rows: dict[str, int] = {}
    offset = {t: 0 for t in bronze.TOPICS}
    per_day = (24 * 60) // vital_interval_min
    vit_idx = 0
    for day in _day_chunks(days):
        d0 = start_ms + day * DAY_MS
        tt = d0 + np.arange(per_day, dtype=np.int64) * vital_interval_min * MIN_MS
        pp = np.repeat(np.arange(patients), per_day)
        ms = np.tile(tt, patients) + rng.integers(0, 30, patients * per_day) * 1000
        n = ms.size
        hours = (ms % DAY_MS) / HOUR_MS
        circ = np.sin((hours - 8) / 24 * 2 * np.pi)
        ramp = np.zeros(n)
        for k in np.flatnonzero(prodrome & (ae_ms >= d0 - DAY_MS) & (ae_ms < d0 + 2 * DAY_MS)):
            sel = (pp == ae_pid[k]) & (ms > ae_ms[k] - DAY_MS) & (ms <= ae_ms[k])
            ramp[sel] += 1.0 - (ae_ms[k] - ms[sel]) / DAY_MS
        hr = base_hr[pp] + 4 * circ + rng.normal(0, 3, n) + 25 * ramp
        sbp = base_sbp[pp] + 3 * circ + rng.normal(0, 5, n) - 20 * ramp
        dbp = sbp * 0.62 + rng.normal(0, 3, n)
        temp_c = 36.8 + 0.3 * circ + rng.normal(0, 0.15, n) + 1.0 * ramp
        spo2 = np.minimum(100, 97.5 + rng.normal(0, 1, n) - 3 * ramp)
        rr = 15 + rng.normal(0, 2, n) + 6 * ramp
        in_f = pp % 7 == 3  # one device in seven reports Fahrenheit
        temp = np.where(in_f, temp_c * 9 / 5 + 32, temp_c)
        missing = rng.random(n) < 0.02
        hr_col = np.where(missing, np.nan, np.round(hr, 1))
        cols: dict[str, Any] = {
            "heart_rate": pa.array(hr_col, from_pandas=True),
            "blood_pressure_systolic": np.round(sbp, 1),
            "blood_pressure_diastolic": np.round(dbp, 1),
            "mean_arterial_pressure": np.round((sbp + 2 * dbp) / 3, 1),
            "temperature": np.round(temp, 2),
            "temperature_unit": pa.array(np.where(in_f, "F", "C")),
            "spo2": np.round(spo2, 1),
            "respiratory_rate": np.round(rr, 1),
        }
        if faults and day == 0:
            hr_col[: max(1, n // 500)] = 250.0  # rule range_heart_rate
            cols["heart_rate"] = pa.array(hr_col, from_pandas=True)
        pid_arr = pa.array([pids[i] for i in pp.tolist()], pa.string())
        cols |= {
            "event_id": _uuid(1, np.arange(vit_idx, vit_idx + n)),
            "correlation_id": ["synth"] * n,
            "schema_version": ["1.0"] * n,
            "patient_id": pid_arr,
            "trial_id": ["SIM01"] * n,
            "site_id": pa.array([site_of[i] for i in pp.tolist()]),
            "source": ["sim:bedside-monitor"] * n,
            "timestamp": _ts(ms),
        }
        vit_idx += n
        cols |= _lineage("patient-vitals", n, offset["patient-vitals"], pid_arr, d0 + DAY_MS)
        offset["patient-vitals"] += n
        t = _table("patient-vitals", cols, n)
        if faults and day == 0:
            dup = t.slice(0, 50)  # the producer's duplicate fault: same payload, new offsets
            dup = dup.set_column(
                dup.schema.get_field_index("_kafka_offset"),
                dup.schema.field("_kafka_offset"),
                pa.array(np.arange(offset["patient-vitals"], offset["patient-vitals"] + 50, dtype=np.int64)),
            )
            offset["patient-vitals"] += 50
            t = pa.concat_tables([t, dup])
        rows["patient-vitals"] = rows.get("patient-vitals", 0) + write_topic(lake, "patient-vitals", t)

        # Labs: one panel per patient per day at 06:00, reported 2-30 h later (late reports happen).
        n_l = patients * len(LABS)
        lp = np.repeat(np.arange(patients), len(LABS))
        li = np.tile(np.arange(len(LABS)), patients)
        lms = d0 + 6 * HOUR_MS + rng.integers(0, 60, n_l) * MIN_MS
        rep = lms + rng.integers(2, 30, n_l) * HOUR_MS
        vals = (
            np.array([LABS[i][2] for i in li])
            + rng.normal(0, 1, n_l) * np.array([LABS[i][3] for i in li]) * 0.3
        )
        # Lab prodromes: the organ the event hits drifts in the two days before it.
        for k in np.flatnonzero(prodrome & (ae_ms > d0) & (ae_ms <= d0 + 2 * DAY_MS)):
            target = {
                "hepatotoxicity": ("ALT", 3.0),
                "acute_kidney_injury": ("CREAT", 1.6),
                "neutropenia": ("NEUT", 0.4),
            }
            hit = target.get(AE_TYPES[ae_type[k]])
            if hit:
                sel = (lp == ae_pid[k]) & (li == [c for c, *_ in LABS].index(hit[0]))
                vals[sel] *= hit[1]
        vals = np.abs(vals)
        alt_unit = np.array([LABS[i][4] is not None for i in li]) & (lp % 5 == 1)
        units = np.array([LABS[i][1] for i in li], dtype=object)
        for j, (_c, _u, _m, _s, alt) in enumerate(LABS):
            if alt:
                sel = alt_unit & (li == j)
                vals[sel] = vals[sel] * alt[1]
                units[sel] = alt[0]
        lpid = pa.array([pids[i] for i in lp.tolist()])
        lcols = {
            "event_id": _uuid(2, np.arange(offset["lab-results"], offset["lab-results"] + n_l)),
            "correlation_id": ["synth"] * n_l,
            "schema_version": ["1.0"] * n_l,
            "patient_id": lpid,
            "trial_id": ["SIM01"] * n_l,
            "site_id": pa.array([site_of[i] for i in lp.tolist()]),
            "source": ["sim:central-lab"] * n_l,
            "timestamp": _ts(lms),
            "reported_at": _ts(rep),
            "test_name": [LABS[i][0] for i in li.tolist()],
            "value": np.round(vals, 3),
            "unit": units.tolist(),
            "reference_range_low": pa.nulls(n_l, pa.float64()),
            "reference_range_high": pa.nulls(n_l, pa.float64()),
            "lab_id": ["LAB1"] * n_l,
        }
        lcols |= _lineage("lab-results", n_l, offset["lab-results"], lpid, d0 + DAY_MS)
        offset["lab-results"] += n_l
        rows["lab-results"] = rows.get("lab-results", 0) + write_topic(
            lake, "lab-results", _table("lab-results", lcols, n_l)
        )

    # Medications: the study drug from enrollment; some patients take an interacting conmed for a week.
    med: dict[str, list[Any]] = {k: [] for k in ("pid", "ms", "drug", "action")}
    for i in range(patients):
        e_ms = start_ms + int(enroll_day[i]) * DAY_MS + 9 * HOUR_MS
        med["pid"].append(i)
        med["ms"].append(e_ms)
        med["drug"].append("simtrexib" if i % 2 == 0 else "placebo")
        med["action"].append("start")
        if rng.random() < 0.4:
            s_ms = e_ms + int(rng.integers(1, max(2, days))) * DAY_MS
            drug = CONMEDS[int(rng.integers(0, len(CONMEDS)))]
            for ms_, act in ((s_ms, "start"), (s_ms + 7 * DAY_MS, "stop")):
                med["pid"].append(i)
                med["ms"].append(ms_)
                med["drug"].append(drug)
                med["action"].append(act)
    m_ms = np.array(med["ms"], np.int64)
    keep = m_ms < start_ms + days * DAY_MS
    n_m = int(keep.sum())
    mp = np.array(med["pid"])[keep]
    mpid = pa.array([pids[i] for i in mp.tolist()])
    mcols = {
        "event_id": _uuid(3, np.arange(n_m)),
        "correlation_id": ["synth"] * n_m,
        "schema_version": ["1.0"] * n_m,
        "patient_id": mpid,
        "trial_id": ["SIM01"] * n_m,
        "site_id": pa.array([site_of[i] for i in mp.tolist()]),
        "source": ["sim:pharmacy"] * n_m,
        "timestamp": _ts(m_ms[keep]),
        "drug_name": np.array(med["drug"], dtype=object)[keep].tolist(),
        "dosage": np.full(n_m, 100.0),
        "unit": ["mg"] * n_m,
        "route": ["ORAL"] * n_m,
        "frequency": ["QD"] * n_m,
        "action": np.array(med["action"], dtype=object)[keep].tolist(),
    }
    mcols |= _lineage("medications", n_m, 0, mpid, start_ms + days * DAY_MS)
    rows["medications"] = write_topic(lake, "medications", _table("medications", mcols, n_m))

    order = np.argsort(ae_ms, kind="stable")
    apid = pa.array([pids[i] for i in ae_pid[order].tolist()])
    n_a = int(n_ae)
    acols = {
        "event_id": _uuid(4, np.arange(n_a)),
        "correlation_id": ["synth"] * n_a,
        "schema_version": ["1.0"] * n_a,
        "patient_id": apid,
        "trial_id": ["SIM01"] * n_a,
        "site_id": pa.array([site_of[i] for i in ae_pid[order].tolist()]),
        "source": ["sim:investigator"] * n_a,
        "event_timestamp": _ts(ae_ms[order]),
        "report_timestamp": _ts(ae_ms[order] + ae_delay[order]),
        "event_type": [AE_TYPES[i] for i in ae_type[order].tolist()],
        "severity": ["moderate"] * n_a,
        "ctcae_grade": pa.array(np.full(n_a, 2, np.int32)),
        "reported_by": ["site:investigator"] * n_a,
    }
    acols |= _lineage("adverse-events", n_a, 0, apid, start_ms + days * DAY_MS)
    rows["adverse-events"] = write_topic(lake, "adverse-events", _table("adverse-events", acols, n_a))

    if faults:
        _write_faults(lake, start_ms, pids[0])
        rows["faults"] = 2
    return Fixture(lake, start_ms, days, pids, rows)


def _write_faults(lake: Path, start_ms: int, pid: str) -> None:
    """One vital from a patient not enrolled; one vital stamped far in the future."""
    when = np.array([start_ms + 3 * HOUR_MS, start_ms + 4000 * DAY_MS], np.int64)
    n = 2
    pidc = ["GHOST1", pid]
    cols: dict[str, Any] = {
        "event_id": _uuid(9, np.arange(n)),
        "correlation_id": ["synth"] * n,
        "schema_version": ["1.0"] * n,
        "patient_id": pidc,
        "trial_id": ["SIM01"] * n,
        "site_id": ["S01"] * n,
        "source": ["sim:bedside-monitor"] * n,
        "timestamp": _ts(when),
        "heart_rate": [80.0, 81.0],
        "blood_pressure_systolic": [120.0, 121.0],
        "blood_pressure_diastolic": [80.0, 80.0],
        "temperature": [37.0, 37.0],
        "spo2": [98.0, 98.0],
    }
    cols |= _lineage("patient-vitals", n, 10**12, pidc, start_ms + DAY_MS)
    write_topic(lake, "patient-vitals", _table("patient-vitals", cols, n))
