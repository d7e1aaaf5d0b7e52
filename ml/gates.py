"""Validation gates (FR-5.1) and the comparison with production (FR-5.2); pure decisions.

Gates: test AUROC >= min_auroc; ECE < max_ece; the AUROC gap (max - min over gated groups) < the
limit for every subgroup attribute (age group, sex, site where known); p95 single-row CPU latency
through ONNX Runtime < the limit. A model failing any gate is logged with every reason and never
becomes a candidate.

Promotion to ``staging``: AUROC_new - AUROC_production >= promotion_min_auroc_gain, both scored on
the same test set. The 2 % is **absolute AUROC points** (0.80 -> at least 0.82), not relative: it is
stricter than a relative 2 % for every AUROC below 1, and it does not shrink as models get worse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ml.params import Gates


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: tuple[str, ...]
    checks: dict[str, bool] = field(default_factory=dict)


def check_gates(
    gates: Gates,
    *,
    auroc: float,
    ece: float,
    subgroup_gaps: Mapping[str, float],
    latency_p95_ms: float,
) -> GateResult:
    reasons: list[str] = []
    checks: dict[str, bool] = {}

    def gate(name: str, ok: bool, reason: str) -> None:
        checks[name] = ok
        if not ok:
            reasons.append(reason)

    gate(
        "auroc",
        not math.isnan(auroc) and auroc >= gates.min_auroc,
        f"test AUROC {auroc:.4f} < {gates.min_auroc}",
    )
    gate(
        "ece", not math.isnan(ece) and ece < gates.max_ece, f"calibration error {ece:.4f} >= {gates.max_ece}"
    )
    for attr, gap in sorted(subgroup_gaps.items()):
        gate(
            f"gap_{attr}",
            gap < gates.max_subgroup_auroc_gap,
            f"AUROC gap across {attr} {gap:.4f} >= {gates.max_subgroup_auroc_gap}",
        )
    gate(
        "latency",
        latency_p95_ms < gates.max_latency_ms,
        f"p95 single-prediction latency {latency_p95_ms:.2f} ms >= {gates.max_latency_ms} ms",
    )
    return GateResult(passed=not reasons, reasons=tuple(reasons), checks=checks)


@dataclass(frozen=True)
class Decision:
    promote: bool  # becomes the `staging` candidate
    reason: str
    candidate_auroc: float
    production_auroc: float | None
    gain: float | None


def compare_with_production(
    gates: Gates, gate_result: GateResult, candidate_auroc: float, production_auroc: float | None
) -> Decision:
    """production_auroc is the production model's AUROC on the candidate's test set, or None when
    there is no production model (or it cannot be scored on this feature set)."""
    if not gate_result.passed:
        return Decision(
            False, "failed gates: " + "; ".join(gate_result.reasons), candidate_auroc, production_auroc, None
        )
    if production_auroc is None:
        return Decision(True, "no comparable production model; gates passed", candidate_auroc, None, None)
    gain = candidate_auroc - production_auroc
    need = gates.promotion_min_auroc_gain
    # a tiny tolerance so that a gain of exactly the threshold is not lost to float rounding
    if gain + 1e-12 >= need:
        return Decision(
            True, f"AUROC gain {gain:+.4f} >= {need} over production", candidate_auroc, production_auroc, gain
        )
    return Decision(
        False, f"AUROC gain {gain:+.4f} < {need} over production", candidate_auroc, production_auroc, gain
    )
