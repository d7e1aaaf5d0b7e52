"""contracts/units.yaml: unit standardization for silver (one unit per vital and per lab test)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from ml.paths import REPO_ROOT

UNITS_PATH = REPO_ROOT / "contracts" / "units.yaml"


class Linear(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    offset: float = 0.0
    multiply: float = Field(default=1.0, gt=0)
    divide: float = Field(default=1.0, gt=0)


class Quantity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    canonical: str
    aliases: tuple[str, ...] = ()
    units: dict[str, Linear]


class UnitsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    unit_aliases: dict[str, str]
    vitals: dict[str, Quantity]
    labs: dict[str, Quantity]


class UnitError(ValueError):
    """A test or unit the table does not know; silver counts it under rule unit_unknown."""


@dataclass(frozen=True)
class UnitsTable:
    spec: UnitsFile
    names: dict[str, str]  # every spelling of a lab test -> its code in the table

    def normalize_unit(self, unit: str | None) -> str:
        u = (unit or "").strip()
        return self.spec.unit_aliases.get(u, u)

    def lab_code(self, test_name: str) -> str | None:
        """The table's code for a test name from any source (CDISC code, PhysioNet column, alias)."""
        return self.names.get(test_name.strip())

    def quantity(self, kind: str, code: str) -> Quantity:
        table = self.spec.vitals if kind == "vitals" else self.spec.labs
        if code not in table:
            raise UnitError(f"unknown {kind} quantity {code!r}")
        return table[code]

    def conversion(self, kind: str, code: str, unit: str | None) -> Linear:
        q = self.quantity(kind, code)
        u = self.normalize_unit(unit)
        if u not in q.units:
            raise UnitError(f"unit {unit!r} is not listed for {kind} {code}")
        return q.units[u]

    def to_canonical(self, kind: str, code: str, value: float, unit: str | None) -> float:
        c = self.conversion(kind, code, unit)
        return (value - c.offset) * c.multiply / c.divide

    def convert(
        self, kind: str, code: str, value: float, from_unit: str | None, to_unit: str | None
    ) -> float:
        canonical = self.to_canonical(kind, code, value, from_unit)
        c = self.conversion(kind, code, to_unit)
        return canonical * c.divide / c.multiply + c.offset

    def lab_rows(self) -> list[tuple[str, str, str, float, float, float]]:
        """(test spelling, code, normalized unit, offset, multiply, divide) for every accepted pair.

        Spark joins against this small table instead of calling Python per row.
        """
        rows = []
        for spelling, code in sorted(self.names.items()):
            for unit, lin in sorted(self.spec.labs[code].units.items()):
                rows.append((spelling, code, unit, lin.offset, lin.multiply, lin.divide))
        return rows


def _lab_index(spec: UnitsFile) -> dict[str, str]:
    names: dict[str, str] = {}
    for code, q in spec.labs.items():
        for spelling in (code, *q.aliases):
            if spelling in names and names[spelling] != code:
                raise ValueError(f"units.yaml: {spelling!r} names both {names[spelling]} and {code}")
            names[spelling] = code
    return names


def load_units(path: Path | None = None) -> UnitsTable:
    spec = UnitsFile.model_validate(yaml.safe_load((path or UNITS_PATH).read_text()))
    return UnitsTable(spec, _lab_index(spec))


@cache
def default_units() -> UnitsTable:
    return load_units()
