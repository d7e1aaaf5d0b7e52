"""Unit conversion agrees with the CDISC pilot's own standardized values on every record.

VSSTRESN/LBSTRESN are the sponsor's conversions of VSORRES/LBORRES, rounded to two decimals; ours,
rounded the same way, must match each of them.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ml.paths import SHARED_DATA
from pipelines.units import UnitsTable, default_units

SDTM = SHARED_DATA / "cdiscpilot01" / "sdtm-parquet"
pytestmark = pytest.mark.skipif(not SDTM.exists(), reason="shared CDISC pilot data not present")

# Half a unit in the last (second) decimal place of the sponsor's rounding, plus float slack.
TOL = 0.005 + 1e-9


def _check(
    units: UnitsTable, kind: str, frame: pd.DataFrame, code_of: dict[str, str], prefix: str
) -> tuple[int, list[str]]:
    orres = pd.to_numeric(frame[f"{prefix}ORRES"], errors="coerce")
    rows = frame.assign(_x=orres)
    rows = rows[rows["_x"].notna() & rows[f"{prefix}STRESN"].notna()]
    bad: list[str] = []
    for testcd, x, fu, tu, want in zip(
        rows[f"{prefix}TESTCD"],
        rows["_x"],
        rows[f"{prefix}ORRESU"],
        rows[f"{prefix}STRESU"],
        rows[f"{prefix}STRESN"],
        strict=True,
    ):
        code = code_of.get(testcd, testcd)
        got = units.convert(kind, code, float(x), fu, tu)
        if not math.isclose(got, want, abs_tol=TOL):
            bad.append(f"{testcd} {x} {fu}->{tu}: {got} != {want}")
    return len(rows), bad


def test_every_vs_record_with_a_standardized_value_agrees() -> None:
    units = default_units()
    vs = pd.read_parquet(SDTM / "vs.parquet")
    code_of = {a: k for k, q in units.spec.vitals.items() for a in (k, *q.aliases)}
    n, bad = _check(units, "vitals", vs, code_of, "VS")
    assert n == int(vs["VSSTRESN"].notna().sum()) > 29_000
    assert bad == []


def test_every_lb_record_with_a_standardized_value_agrees() -> None:
    units = default_units()
    lb = pd.read_parquet(SDTM / "lb.parquet")
    n, bad = _check(units, "labs", lb, units.names, "LB")
    assert n == int(lb["LBSTRESN"].notna().sum()) > 50_000
    assert bad[:5] == []


def test_unknown_unit_is_an_error_not_a_guess() -> None:
    from pipelines.units import UnitError

    units = default_units()
    with pytest.raises(UnitError):
        units.to_canonical("labs", "CREAT", 1.0, "mmol/L")
    with pytest.raises(UnitError):
        units.to_canonical("labs", "NOPE", 1.0, "mg/dL")


def test_round_trip_and_affine_temperature() -> None:
    units = default_units()
    assert units.to_canonical("vitals", "temperature", 98.6, "F") == pytest.approx(37.0)
    assert units.convert("vitals", "temperature", 37.0, "C", "F") == pytest.approx(98.6)
    assert units.to_canonical("vitals", "weight", 100.0, "LB") == pytest.approx(45.36)
    assert units.lab_code("Creatinine") == "CREAT"
    assert units.to_canonical("labs", "CREAT", 88.4, "umol/L") == pytest.approx(1.0)
