"""The bronze lake contract (contracts/bronze.md) as Arrow schemas: what silver reads.

The TypeScript ingester is the producer (src/ingest/bronze-schema.ts); these schemas let the Python
side write contract-exact fixtures and check what it reads.
"""

from __future__ import annotations

import pyarrow as pa

TOPICS = ("patient-vitals", "lab-results", "medications", "adverse-events")
TS = pa.timestamp("ms", tz="UTC")

_ENVELOPE = [
    pa.field("event_id", pa.string(), False),
    pa.field("correlation_id", pa.string(), False),
    pa.field("schema_version", pa.string(), False),
    pa.field("patient_id", pa.string(), False),
    pa.field("trial_id", pa.string()),
    pa.field("site_id", pa.string()),
    pa.field("source", pa.string(), False),
    pa.field("timestamp_imputed", pa.bool_()),
    pa.field("date_imputation", pa.string()),
]
_LINEAGE = [
    pa.field("_kafka_topic", pa.string(), False),
    pa.field("_kafka_partition", pa.int32(), False),
    pa.field("_kafka_offset", pa.int64(), False),
    pa.field("_kafka_timestamp", TS, False),
    pa.field("_kafka_key", pa.string()),
    pa.field("_ingested_at", TS, False),
]


def _f(name: str, typ: pa.DataType, nullable: bool = True) -> pa.Field:
    return pa.field(name, typ, nullable)


_PAYLOAD: dict[str, list[pa.Field]] = {
    "patient-vitals": [
        _f("timestamp", TS, False),
        *(
            _f(n, t)
            for n, t in [
                ("heart_rate", pa.float64()),
                ("blood_pressure_systolic", pa.float64()),
                ("blood_pressure_diastolic", pa.float64()),
                ("temperature", pa.float64()),
                ("temperature_unit", pa.string()),
                ("spo2", pa.float64()),
                ("respiratory_rate", pa.float64()),
                ("mean_arterial_pressure", pa.float64()),
                ("etco2", pa.float64()),
                ("weight", pa.float64()),
                ("weight_unit", pa.string()),
                ("height", pa.float64()),
                ("height_unit", pa.string()),
                ("position", pa.string()),
                ("visit", pa.string()),
            ]
        ),
    ],
    "lab-results": [
        _f("timestamp", TS, False),
        _f("reported_at", TS),
        _f("test_name", pa.string(), False),
        _f("test_description", pa.string()),
        _f("value", pa.float64(), False),
        _f("unit", pa.string(), False),
        _f("reference_range_low", pa.float64()),
        _f("reference_range_high", pa.float64()),
        _f("lab_id", pa.string(), False),
        _f("specimen", pa.string()),
        _f("visit", pa.string()),
    ],
    "medications": [
        _f("timestamp", TS, False),
        _f("end_timestamp", TS),
        _f("end_date_imputation", pa.string()),
        _f("drug_name", pa.string(), False),
        _f("dosage", pa.float64()),
        _f("unit", pa.string()),
        _f("route", pa.string()),
        _f("frequency", pa.string()),
        _f("action", pa.string()),
        _f("drug_class", pa.string()),
        _f("indication", pa.string()),
        _f("visit", pa.string()),
    ],
    "adverse-events": [
        _f("event_timestamp", TS, False),
        _f("report_timestamp", TS, False),
        _f("end_timestamp", TS),
        _f("end_date_imputation", pa.string()),
        _f("event_type", pa.string(), False),
        _f("term", pa.string()),
        _f("severity", pa.string(), False),
        _f("ctcae_grade", pa.int32()),
        _f("serious", pa.bool_()),
        _f("reported_by", pa.string(), False),
    ],
}


def schema(topic: str) -> pa.Schema:
    return pa.schema([*_ENVELOPE, *_PAYLOAD[topic], *_LINEAGE])


def event_time_column(topic: str) -> str:
    return "event_timestamp" if topic == "adverse-events" else "timestamp"
