"""The NEWS2-style baseline of the PhysioNet benchmark (ml/physionet.py): bands and the oxygen term."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.physionet import _news2_from_features, news2


def _a(*x: float) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def test_news2_bands_worst_and_normal() -> None:
    # resp 25 (3), SpO2 90 (3), on oxygen (2), SBP 85 (3), HR 135 (3), temp 34.5 (3) = 17
    worst = news2(_a(25), _a(90), _a(85), _a(135), _a(34.5), _a(0.40))
    normal = news2(_a(16), _a(97), _a(120), _a(70), _a(37.0), _a(0.21))
    assert worst.tolist() == [17.0]
    assert normal.tolist() == [0.0]


def test_news2_missing_vitals_score_zero() -> None:
    nan = float("nan")
    assert news2(_a(nan), _a(nan), _a(nan), _a(nan), _a(nan), _a(nan)).tolist() == [0.0]


def test_oxygen_term_needs_a_fio2_measured_within_24h() -> None:
    frame = pd.DataFrame(
        {
            "rr_last": [16.0, 16.0, 16.0],
            "spo2_last": [97.0, 97.0, 97.0],
            "sbp_last": [120.0, 120.0, 120.0],
            "hr_last": [70.0, 70.0, 70.0],
            "temp_last": [37.0, 37.0, 37.0],
            # canonical unit %: 40 % recent, 40 % measured > 24 h ago, room air recent
            "fio2_last": [40.0, 40.0, 21.0],
            "fio2_missing_24h": [0.0, 1.0, 0.0],
        }
    )
    assert _news2_from_features(frame).tolist() == [2.0, 0.0, 0.0]
