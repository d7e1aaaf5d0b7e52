"""The exported graph: PyTorch/ONNX Runtime parity, metadata, latency, and the attribution's
defining properties (integrated gradients: completeness, zero for missing features, exact for an
affine model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ml import onnx_export
from ml.model import Preprocessing, RiskMLP, ServingModel

N_FEATURES = 12


def _raw(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=50, scale=10, size=(n, N_FEATURES)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    return x


def _model(seed: int = 0, steps: int = 16) -> ServingModel:
    torch.manual_seed(seed)
    mlp = RiskMLP(N_FEATURES, (64, 32), 0.3).eval()
    prep = Preprocessing.fit(_raw(5000, seed + 1))
    return ServingModel(mlp, prep, calibration=(0.8, -1.5), steps=steps).eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[ServingModel, Path]:
    model = _model()
    names = tuple(f"f{i}" for i in range(N_FEATURES))
    meta = onnx_export.metadata_for(names, "abc123", "v1", "test@0", 6.0, 0.3, 16)
    path = onnx_export.export(model, N_FEATURES, tmp_path_factory.mktemp("onnx") / "model.onnx", meta)
    return model, path


def test_pytorch_and_onnx_agree_over_10000_rows(exported: tuple[ServingModel, Path]) -> None:
    model, path = exported
    x = _raw(10_000, seed=5)
    with torch.no_grad():
        risk_t, attr_t = model(torch.from_numpy(x))
    risk_o, attr_o = onnx_export.score(onnx_export.session(path), x)
    assert risk_o.shape == (10_000,) and attr_o.shape == (10_000, N_FEATURES)
    assert float(np.max(np.abs(risk_t.numpy() - risk_o))) <= 1e-5
    assert float(np.max(np.abs(attr_t.numpy() - attr_o))) <= 1e-5


def test_metadata_carries_the_feature_set(exported: tuple[ServingModel, Path]) -> None:
    meta = onnx_export.read_metadata(exported[1])
    assert meta["feature_set_hash"] == "abc123"
    assert meta["feature_set_version"] == "v1"
    assert json.loads(meta["feature_names"]) == [f"f{i}" for i in range(N_FEATURES)]
    assert meta["model_version"] == "test@0"


def test_preprocessing_is_inside_the_graph(exported: tuple[ServingModel, Path]) -> None:
    # an all-NaN row is imputed to the medians by the graph itself: it scores like the median row
    model, path = exported
    sess = onnx_export.session(path)
    median = model.get_buffer("median").numpy()[None, :]
    r_nan, a_nan = onnx_export.score(sess, np.full((1, N_FEATURES), np.nan, dtype=np.float32))
    r_med, _ = onnx_export.score(sess, median)
    assert r_nan[0] == pytest.approx(r_med[0], abs=1e-7)
    assert np.all(a_nan == 0)


def test_single_prediction_with_attribution_is_well_under_a_millisecond(
    exported: tuple[ServingModel, Path],
) -> None:
    lat = onnx_export.single_row_latency_ms(onnx_export.session(exported[1]), _raw(100), runs=300)
    assert lat["p50_ms"] < 1.0


def test_completeness_sum_of_attributions_is_the_logit_change() -> None:
    model = _model(seed=3, steps=256)
    x = torch.from_numpy(_raw(500, seed=9))
    with torch.no_grad():
        _, attr = model(x)
        delta = model.logit_of_raw(x) - model.baseline_logit()
    # Riemann error of a piecewise-linear path integral: small with 256 steps
    err = (attr.sum(dim=1) - delta).abs()
    assert float(err.max()) < 0.05 * float(delta.abs().max())
    assert float(err.mean()) < 0.01


def test_attribution_is_exact_for_an_affine_model() -> None:
    # all ReLUs active everywhere on the path: the network is affine, IG = w_i * (x_i - baseline_i)
    mlp = RiskMLP(N_FEATURES, (64, 32), 0.0).eval()
    with torch.no_grad():
        for lin in mlp.linears():
            lin.weight.uniform_(0.0, 0.05)
            torch.as_tensor(lin.bias).fill_(100.0)
    model = ServingModel(mlp, Preprocessing.fit(_raw(2000, 1)), steps=4).eval()
    x = torch.from_numpy(_raw(200, seed=2))
    with torch.no_grad():
        _, attr = model(x)
        delta = model.logit_of_raw(x) - model.baseline_logit()
        w = model._grad(torch.zeros(1, N_FEATURES))[0]
        z = model._scaled(x)
        base = (model.get_buffer("median") - model.get_buffer("mean")) / model.get_buffer("std")
    torch.testing.assert_close(attr.sum(dim=1), delta, atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(attr, w * (z - base), atol=1e-4, rtol=1e-4)


def test_missing_features_get_zero_attribution() -> None:
    model = _model()
    x = _raw(300, seed=4)
    with torch.no_grad():
        _, attr = model(torch.from_numpy(x))
    assert torch.all(attr[torch.from_numpy(np.isnan(x))] == 0)


def test_closed_form_gradient_matches_autograd() -> None:
    model = _model(seed=2)
    z = torch.randn(64, N_FEATURES, requires_grad=True)
    model._logit(z).sum().backward()
    assert z.grad is not None
    torch.testing.assert_close(model._grad(z.detach()), z.grad, atol=1e-5, rtol=1e-5)
