"""The training recipe as a small protocol: setup, train, save, cleanup (after torchtune's recipes).

``setup`` loads and splits the data, seeds everything and builds the model; ``train`` runs the
epochs with early stopping on validation AUROC and a checkpoint every epoch; ``save`` restores the
best epoch, fits the calibration and writes the model files; ``cleanup`` releases the device.
Evaluation, gates and MLflow are the caller's (ml/train.py), so the recipe is testable alone.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from ml.data import (
    FeatureSet,
    Split,
    check_frame,
    feature_set_for,
    load_feature_store,
    load_frame,
    split_by_patient,
)
from ml.metrics import auroc
from ml.model import Preprocessing, RiskMLP, ServingModel
from ml.params import Params


class FlagError(ValueError):
    """An impossible combination of command-line flags, found before any work starts."""


class Recipe(Protocol):
    def setup(self) -> None: ...
    def train(self) -> None: ...
    def save(self) -> None: ...
    def cleanup(self) -> None: ...


@dataclass(frozen=True)
class TrainConfig:
    data: Path | None
    out_dir: Path
    params: Params
    device: str = "auto"  # auto | cpu | cuda
    seed: int | None = None  # None: params.yaml's seed
    max_epochs: int | None = None  # None: params.yaml's
    batch_size: int | None = None
    label: str = "label"
    deterministic: bool = False
    threads: int | None = None
    test_data: Path | None = None  # evaluate on another frame (another hospital) instead of a split
    horizon_hours: float | None = None
    threshold_strategy: str | None = None
    weight_decay: float = 0.0  # Adam L2 penalty; 0 = the PRD's plain Adam
    feature_store: Path | None = None  # read [start, end) from the feature store instead of --data
    start: str | None = None
    end: str | None = None
    # Rollback drill ONLY (never a default): train and calibrate on 1 - label; the test set keeps the
    # true labels. The model ranks risk backwards, so on live data its AUROC is about 1 - a real
    # model's: worse than any production above 0.5 by construction (the closed loop's run 2).
    drill_inverted_labels: bool = False


def validate_config(cfg: TrainConfig, *, mlflow_enabled: bool, register: bool) -> None:
    """Rejects impossible flag combinations before any data is read, naming both flags."""
    if register and not mlflow_enabled:
        raise FlagError("--register needs the MLflow registry; it cannot be combined with --no-mlflow")
    if cfg.deterministic and cfg.device == "cuda":
        raise FlagError(
            "--deterministic guarantees bit-identical losses on CPU only; "
            "it cannot be combined with --device cuda"
        )
    if (cfg.data is None) == (cfg.feature_store is None):
        raise FlagError("give exactly one of --data and --feature-store (found both or neither)")
    if cfg.feature_store is not None and not (cfg.start and cfg.end):
        raise FlagError("--feature-store needs --start and --end (the snapshot-time range)")
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise FlagError(f"--device must be auto, cpu or cuda, not {cfg.device!r}")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise FlagError("--device cuda was asked for but torch sees no CUDA device")
    if cfg.test_data is not None and cfg.test_data == cfg.data:
        raise FlagError("--test-data must differ from --data: the test set would be the training set")


def seed_everything(seed: int, deterministic: bool) -> int:
    """Seeds torch, numpy and random with one seed and returns it (it is saved with the run)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    return seed


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    train_auroc: float
    val_auroc: float
    seconds: float


@dataclass
class Arrays:
    x: NDArray[np.float32]
    y: NDArray[np.float32]
    patient_id: NDArray[np.object_]
    frame: pd.DataFrame = field(repr=False)


class TrainRecipe:
    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        p = cfg.params.training
        self.seed = cfg.params.seed if cfg.seed is None else cfg.seed
        self.max_epochs = cfg.max_epochs or p.max_epochs
        self.batch_size = cfg.batch_size or p.batch_size
        self.threshold_strategy = cfg.threshold_strategy or p.threshold_strategy
        self.history: list[EpochRecord] = []
        self.best_epoch = -1
        self.stopped_early = False
        self.train_seconds = 0.0

    # -- setup ---------------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        seed_everything(self.seed, cfg.deterministic)
        self.device = resolve_device(cfg.device)
        if cfg.threads or self.device.type == "cpu":
            # One thread by default: a 64-32 MLP gains nothing from intra-op parallelism, and on a
            # shared machine OpenMP's spinning threads made an epoch 20x slower (measured).
            torch.set_num_threads(cfg.threads or 1)
        self.features: FeatureSet
        if cfg.feature_store is not None:
            frame, self.features = load_feature_store(cfg.feature_store, str(cfg.start), str(cfg.end))
        else:
            assert cfg.data is not None  # validate_config guarantees one source
            frame = load_frame(cfg.data)
            self.features = feature_set_for(frame, cfg.data)
        check_frame(frame, cfg.label)
        sp = cfg.params.training.split
        labels = frame[cfg.label].to_numpy()
        if cfg.test_data is None:
            self.split: Split = split_by_patient(
                frame["patient_id"].to_numpy(), labels, (sp.train, sp.val, sp.test), self.seed
            )
            self.train_set = self._arrays(frame[self.split.train])
            self.val_set = self._arrays(frame[self.split.val])
            self.test_set = self._arrays(frame[self.split.test])
        else:
            # train on all of --data (train/val by patient), test on the other frame
            share = sp.train / (sp.train + sp.val)
            split = split_by_patient(
                frame["patient_id"].to_numpy(), labels, (share, 1 - share - 1e-12, 1e-12), self.seed
            )
            self.split = split
            self.train_set = self._arrays(frame[split.train])
            self.val_set = self._arrays(frame[split.val | split.test])
            test = load_frame(cfg.test_data)
            check_frame(test, cfg.label)
            self.test_set = self._arrays(test)
        if cfg.drill_inverted_labels:
            # the drill's candidate learns the opposite of the truth; test_set is left as it is so
            # its evaluation (and the registry's record of it) shows how bad it is
            for a in (self.train_set, self.val_set):
                a.y = (1.0 - a.y).astype(np.float32)
        self.prep = Preprocessing.fit(self.train_set.x)
        t = cfg.params.training
        self.model = RiskMLP(len(self.features.names), tuple(t.hidden_sizes), t.dropout).to(self.device)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=t.learning_rate, weight_decay=cfg.weight_decay
        )
        pos = float(self.train_set.y.mean())
        if t.class_weighting == "balanced":
            self.class_weights = (0.5 / (1 - pos), 0.5 / pos)
        else:
            self.class_weights = (1.0, 1.0)
        self.ckpt_dir = cfg.out_dir / "checkpoints"
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.ckpt_dir.glob("epoch_*.pt"):  # a previous run's epochs would be mistaken for ours
            stale.unlink()

    def _arrays(self, frame: pd.DataFrame) -> Arrays:
        return Arrays(
            x=frame[list(self.features.names)].to_numpy(dtype=np.float32, na_value=np.nan),
            y=frame[self.cfg.label].to_numpy(dtype=np.float32),
            patient_id=frame["patient_id"].to_numpy(dtype=object),
            frame=frame.reset_index(drop=True),
        )

    # -- train ---------------------------------------------------------------------------------------
    def _tensors(self, a: Arrays) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(self.prep.transform(a.x)).to(self.device)
        y = torch.from_numpy(a.y).to(self.device)
        return x, y

    def _weights(self, y: torch.Tensor) -> torch.Tensor:
        w_neg, w_pos = self.class_weights
        return torch.where(
            y > 0.5, torch.tensor(w_pos, device=y.device), torch.tensor(w_neg, device=y.device)
        )

    @torch.no_grad()
    def _eval(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, NDArray[np.float32]]:
        self.model.eval()
        logits = torch.cat([self.model(x[i : i + 65536]) for i in range(0, len(x), 65536)])
        loss = F.binary_cross_entropy_with_logits(logits, y, weight=self._weights(y)).item()
        out = logits.float().cpu().numpy()
        return loss, auroc(y.cpu().numpy(), out), out

    def train(self) -> None:
        t0 = time.perf_counter()
        xtr, ytr = self._tensors(self.train_set)
        xva, yva = self._tensors(self.val_set)
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        # train AUROC on a fixed sample: the full training set would double the epoch time
        sample = torch.randperm(len(xtr), generator=gen)[:50_000].to(self.device)
        best_auroc, since_best = -1.0, 0
        patience = self.cfg.params.training.patience
        for epoch in range(1, self.max_epochs + 1):
            e0 = time.perf_counter()
            self.model.train()
            order = torch.randperm(len(xtr), generator=gen).to(self.device)
            total, count = 0.0, 0
            for i in range(0, len(order), self.batch_size):
                idx = order[i : i + self.batch_size]
                xb, yb = xtr[idx], ytr[idx]
                loss = F.binary_cross_entropy_with_logits(self.model(xb), yb, weight=self._weights(yb))
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                self.optimizer.step()
                total += loss.item() * len(idx)
                count += len(idx)
            _, train_auc, _ = self._eval(xtr[sample], ytr[sample])
            val_loss, val_auc, _ = self._eval(xva, yva)
            rec = EpochRecord(epoch, total / count, val_loss, train_auc, val_auc, time.perf_counter() - e0)
            self.history.append(rec)
            torch.save(
                {
                    "epoch": epoch,
                    "seed": self.seed,
                    "model": self.model.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "val_auroc": val_auc,
                },
                self.ckpt_dir / f"epoch_{epoch:03d}.pt",
            )
            if val_auc > best_auroc:
                best_auroc, since_best, self.best_epoch = val_auc, 0, epoch
            else:
                since_best += 1
                if since_best >= patience:
                    self.stopped_early = True
                    break
        self.train_seconds = time.perf_counter() - t0

    # -- save ----------------------------------------------------------------------------------------
    def save(self) -> None:
        state = torch.load(self.ckpt_dir / f"epoch_{self.best_epoch:03d}.pt", map_location=self.device)
        self.model.load_state_dict(state["model"])
        xva, yva = self._tensors(self.val_set)
        _, _, val_logits = self._eval(xva, yva)
        self.calibration = platt_fit(val_logits.astype(np.float64), self.val_set.y.astype(np.float64))
        self.model = self.model.cpu().eval()
        steps = self.cfg.params.training.ig_steps
        self.serving = ServingModel(self.model, self.prep, self.calibration, steps=steps).eval()
        out = self.cfg.out_dir / "model"
        out.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "state_dict": self.model.state_dict(),
                "seed": self.seed,
                "best_epoch": self.best_epoch,
                "feature_names": list(self.features.names),
                "feature_set_hash": self.features.hash,
                "hidden_sizes": list(self.cfg.params.training.hidden_sizes),
                "dropout": self.cfg.params.training.dropout,
                "calibration": list(self.calibration),
            },
            out / "model.pth",
        )
        (out / "scaler.json").write_text(json.dumps(self.prep.to_json()))
        (out / "feature_names.json").write_text(
            json.dumps(
                {
                    "feature_names": list(self.features.names),
                    "feature_set_hash": self.features.hash,
                    "feature_set_version": self.features.version,
                },
                indent=1,
            )
        )

    def cleanup(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # -- for the caller -------------------------------------------------------------------------------
    @torch.no_grad()
    def serving_scores(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        risk, _ = self.serving(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        return np.asarray(risk.numpy(), dtype=np.float32)


def platt_fit(logits: NDArray[np.float64], y: NDArray[np.float64], iters: int = 50) -> tuple[float, float]:
    """Fits p = sigmoid(a * logit + b) by Newton's method on validation data.

    Class-weighted BCE trains a good ranker with inflated probabilities (the weights shift the
    intercept by about log(w_pos / w_neg)); this recalibration restores probabilities so the
    calibration gate measures the model, not the weighting. Monotone, so AUROC is unchanged.
    """
    # start from the constant model (a = 0, b = logit(prevalence)): from a = 1 Newton diverged on
    # unbounded scores such as NEWS2 (0..17)
    prevalence = float(np.clip(np.mean(y), 1e-6, 1 - 1e-6))
    a, b = 0.0, float(np.log(prevalence / (1 - prevalence)))
    design = np.stack([logits, np.ones_like(logits)], axis=1)
    for _ in range(iters):
        z = np.clip(a * logits + b, -30, 30)
        p = 1 / (1 + np.exp(-z))
        grad = design.T @ (p - y)
        hess = (design * (p * (1 - p))[:, None]).T @ design + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        a, b = a - float(step[0]), b - float(step[1])
        if np.abs(step).max() < 1e-10:
            break
    return a, b


def run(recipe: Recipe) -> None:
    recipe.setup()
    try:
        recipe.train()
        recipe.save()
    finally:
        recipe.cleanup()
