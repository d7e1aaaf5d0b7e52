"""The topic contracts are plain JSON Schema that Python reads as they are (issue 5's pipelines do)."""

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
TOPICS = ["patient-vitals", "lab-results", "medications", "adverse-events"]

ENVELOPE = {
    "event_id": "0b7c9f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
    "correlation_id": "sim:seed-42",
    "schema_version": "1.0",
    "patient_id": "T01-S01-0001",
    "site_id": "S01",
}
VALID: dict[str, dict[str, Any]] = {
    "patient-vitals": {
        **ENVELOPE,
        "source": "sim:bedside-monitor",
        "timestamp": "2024-03-01T08:05:00Z",
        "heart_rate": 78,
        "blood_pressure_systolic": None,
        "blood_pressure_diastolic": None,
        "temperature": 98.4,
        "temperature_unit": "F",
        "spo2": 97,
    },
    "lab-results": {
        **ENVELOPE,
        "source": "sim:central-lab",
        "timestamp": "2024-03-01T06:00:00Z",
        "test_name": "ALT",
        "value": 24,
        "unit": "U/L",
        "reference_range": {"low": 6, "high": None},
        "lab_id": "LAB-CENTRAL",
    },
    "medications": {
        **ENVELOPE,
        "source": "sim:emar",
        "timestamp": "2024-03-01T08:00:00Z",
        "drug_name": "clarithromycin",
        "dosage": 500,
        "unit": "mg",
        "route": None,
        "frequency": "BID",
    },
    "adverse-events": {
        **ENVELOPE,
        "source": "sim:edc",
        "event_timestamp": "2024-03-02T14:00:00Z",
        "report_timestamp": "2024-03-03T09:00:00Z",
        "event_type": "hepatotoxicity",
        "severity": "severe",
        "ctcae_grade": 3,
        "reported_by": "site:S01:investigator",
    },
}


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((CONTRACTS / name).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("topic", TOPICS)
def test_topic_schema_loads_and_accepts_sample(topic: str) -> None:
    v = validator(f"topics/{topic}.schema.json")
    assert list(v.iter_errors(VALID[topic])) == []
    assert not v.is_valid({**VALID[topic], "unknown_field": 1})


def test_temperature_range_follows_unit() -> None:
    v = validator("topics/patient-vitals.schema.json")
    assert not v.is_valid({**VALID["patient-vitals"], "temperature_unit": "C"})
    assert not v.is_valid({**VALID["patient-vitals"], "heart_rate": None, "temperature": None, "spo2": None})


def test_enrollment_schema_loads() -> None:
    v = validator("enrollment.schema.json")
    rec = {
        "patient_id": "p000001",
        "trial_id": "physionet2019",
        "site_id": "MICU",
        "arm": None,
        "enrollment_date": "2019-01-01",
        "age": 83.14,
        "sex": "F",
        "height_cm": None,
        "weight_kg": None,
        "comorbidities": [],
        "source": "physionet2019",
    }
    assert list(v.iter_errors(rec)) == []
