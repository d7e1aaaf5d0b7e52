"""The PRD's MLP and the serving graph exported to ONNX.

``RiskMLP`` is what training optimizes: standardized features in, one logit out.

``ServingModel`` is what the service runs: raw feature values in the definition's order (NaN where
missing) in; calibrated risk and a per-feature attribution out. Imputation, scaling and the
calibration are inside it, so nothing is re-implemented by hand on the TypeScript side.

Attribution is integrated gradients (Sundararajan et al., 2017) of the calibrated logit, from a
baseline equal to the imputation value of every feature (so a missing feature gets exactly zero),
with ``steps`` midpoint Riemann steps. The gradient of a ReLU MLP is computed in closed form
(W1^T diag(relu'(h1)) W2^T diag(relu'(h2)) w3), not by autograd, so the exporter sees plain tensor
ops and one prediction costs ``steps`` tiny forward passes: microseconds. Its properties:
- completeness: sum(attribution) = logit(x) - logit(baseline), up to the Riemann error, which is
  zero where the network is linear along the path;
- missing or unchanged features get zero attribution;
- linearity: for an affine model it equals w_i * (x_i - baseline_i) exactly.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn


class RiskMLP(nn.Module):
    """input -> 64 -> 32 -> 1 (sizes from params.yaml), ReLU, dropout; outputs the logit."""

    def __init__(self, n_features: int, hidden: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.net(x)).squeeze(-1)

    def linears(self) -> list[nn.Linear]:
        return [m for m in self.net if isinstance(m, nn.Linear)]


@dataclass(frozen=True)
class Preprocessing:
    """Per-feature imputation value (training median), winsorizing bounds (training quantiles
    0.1 % and 99.9 %) and standardization (mean, std of the imputed, winsorized training values).

    Winsorizing: ICU labs are heavy-tailed (troponin, bilirubin, lactate), and an extreme value
    from another hospital's unit or a data-entry error should not push the MLP far outside the
    region it was trained on.
    """

    median: NDArray[np.float32]
    mean: NDArray[np.float32]
    std: NDArray[np.float32]
    lo: NDArray[np.float32]
    hi: NDArray[np.float32]

    @staticmethod
    def fit(x: NDArray[np.floating], tail: float = 0.001, sample: int = 200_000) -> Preprocessing:
        x = np.asarray(x, dtype=np.float64)
        # quantiles from a fixed systematic sample: exact quantiles of 500k rows cost ~10 s
        step = max(1, len(x) // sample)
        with warnings.catch_warnings():
            # an all-NaN column (a lab never drawn in training) is expected; it is handled below
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(x, axis=0)
            lo = np.nanquantile(x[::step], tail, axis=0)
            hi = np.nanquantile(x[::step], 1 - tail, axis=0)
        median = np.where(np.isnan(median), 0.0, median)  # a column never observed in training
        lo = np.where(np.isnan(lo), median, np.minimum(lo, median))
        hi = np.where(np.isnan(hi), median, np.maximum(hi, median))
        filled = np.clip(np.where(np.isnan(x), median, x), lo, hi)
        mean = filled.mean(axis=0)
        std = filled.std(axis=0)
        std = np.where(std < 1e-6, 1.0, std)  # constant columns pass through centred
        f32 = np.float32
        return Preprocessing(
            median.astype(f32), mean.astype(f32), std.astype(f32), lo.astype(f32), hi.astype(f32)
        )

    def transform(self, x: NDArray[np.floating]) -> NDArray[np.float32]:
        x = np.asarray(x, dtype=np.float32)
        filled = np.clip(np.where(np.isnan(x), self.median, x), self.lo, self.hi)
        return np.asarray((filled - self.mean) / self.std, dtype=np.float32)

    def to_json(self) -> dict[str, list[float]]:
        return {k: getattr(self, k).tolist() for k in ("median", "mean", "std", "lo", "hi")}

    @staticmethod
    def from_json(d: dict[str, list[float]]) -> Preprocessing:
        a = {k: np.asarray(d[k], dtype=np.float32) for k in ("median", "mean", "std", "lo", "hi")}
        return Preprocessing(a["median"], a["mean"], a["std"], a["lo"], a["hi"])


class ServingModel(nn.Module):
    """Raw features -> (risk [N], attribution [N, F]); the graph exported to ONNX."""

    def __init__(
        self,
        mlp: RiskMLP,
        prep: Preprocessing,
        calibration: tuple[float, float] = (1.0, 0.0),
        steps: int = 16,
    ) -> None:
        super().__init__()
        linears = mlp.linears()
        self.weights = nn.ParameterList([nn.Parameter(lin.weight.detach().clone()) for lin in linears])
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.as_tensor(lin.bias).detach().clone()) for lin in linears]
        )
        self.register_buffer("median", torch.from_numpy(prep.median.copy()))
        self.register_buffer("mean", torch.from_numpy(prep.mean.copy()))
        self.register_buffer("std", torch.from_numpy(prep.std.copy()))
        self.register_buffer("lo", torch.from_numpy(prep.lo.copy()))
        self.register_buffer("hi", torch.from_numpy(prep.hi.copy()))
        # Platt scaling fitted on validation logits: calibrated logit = a * logit + b
        self.register_buffer("cal", torch.tensor([calibration[0], calibration[1]], dtype=torch.float32))
        alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
        self.register_buffer("alphas", alphas)
        for p in self.parameters():
            p.requires_grad_(False)

    def _scaled(self, raw: torch.Tensor) -> torch.Tensor:
        median = self.get_buffer("median")
        filled = torch.where(torch.isnan(raw), median, raw)
        filled = torch.minimum(torch.maximum(filled, self.get_buffer("lo")), self.get_buffer("hi"))
        return (filled - self.get_buffer("mean")) / self.get_buffer("std")

    def _logit(self, z: torch.Tensor) -> torch.Tensor:
        """Calibrated logit of standardized features z [..., F] -> [...]."""
        h = z
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            h = torch.relu(h @ w.T + b)
        out: torch.Tensor = (h @ self.weights[-1].T + self.biases[-1]).squeeze(-1)
        cal = self.get_buffer("cal")
        return out * cal[0] + cal[1]

    def _grad(self, z: torch.Tensor) -> torch.Tensor:
        """d calibrated logit / dz in closed form for the ReLU MLP; z [..., F] -> [..., F]."""
        masks: list[torch.Tensor] = []
        h = z
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            pre = h @ w.T + b
            masks.append((pre > 0).to(z.dtype))
            h = torch.relu(pre)
        g: torch.Tensor = self.weights[-1] * self.get_buffer("cal")[0]  # [1, H_last]
        for w, m in zip(reversed(list(self.weights[:-1])), reversed(masks), strict=True):
            g = (g * m) @ w  # [..., H_prev]
        return g

    def forward(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self._scaled(raw)
        risk = torch.sigmoid(self._logit(z))
        base = (self.get_buffer("median") - self.get_buffer("mean")) / self.get_buffer("std")
        delta = z - base  # [N, F]
        alphas = self.get_buffer("alphas")
        path = base + alphas.view(1, -1, 1) * delta.unsqueeze(1)  # [N, S, F]
        avg_grad = self._grad(path).mean(dim=1)
        return risk, delta * avg_grad

    def logit_of_raw(self, raw: torch.Tensor) -> torch.Tensor:
        return self._logit(self._scaled(raw))

    def baseline_logit(self) -> torch.Tensor:
        base = (self.get_buffer("median") - self.get_buffer("mean")) / self.get_buffer("std")
        return self._logit(base.unsqueeze(0))[0]
