"""Evaluation artifacts: plots, the classification report and the model card."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: training runs on servers and CI
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import classification_report, precision_recall_curve, roc_curve

from ml.metrics import SubgroupResult, at_threshold
from ml.paths import REPO_ROOT


def write_plots(
    out: Path,
    y: NDArray[np.generic],
    p: NDArray[np.generic],
    threshold: float,
    history: Sequence[Any],
    bins: int,
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []

    def save(fig: Any, name: str) -> None:
        path = out / name
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)

    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr)
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    save(fig, "roc.png")

    prec, rec, _ = precision_recall_curve(y, p)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(rec, prec)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)")
    save(fig, "precision_recall.png")

    edges = np.linspace(0, 1, bins + 1)
    p = np.asarray(p, dtype=np.float64)
    idx = np.clip(np.digitize(np.asarray(p, dtype=np.float64), edges) - 1, 0, bins - 1)
    mean_p = [float(np.mean(p[idx == b])) for b in range(bins) if np.any(idx == b)]
    frac_y = [float(np.mean(np.asarray(y)[idx == b])) for b in range(bins) if np.any(idx == b)]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.plot(mean_p, frac_y, "o-")
    ax.set(xlabel="mean predicted risk", ylabel="observed frequency", title="Calibration (test)")
    save(fig, "calibration.png")

    r = at_threshold(y, p, threshold)
    cm = np.array([[r.tn, r.fp], [r.fn, r.tp]])
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center")
    ax.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="actual")
    ax.set_title(f"Confusion matrix at {threshold:.3f}")
    save(fig, "confusion_matrix.png")

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [h.epoch for h in history]
    a1.plot(epochs, [h.train_loss for h in history], label="train")
    a1.plot(epochs, [h.val_loss for h in history], label="val")
    a1.set(xlabel="epoch", ylabel="weighted BCE", title="Loss")
    a1.legend()
    a2.plot(epochs, [h.train_auroc for h in history], label="train")
    a2.plot(epochs, [h.val_auroc for h in history], label="val")
    a2.set(xlabel="epoch", ylabel="AUROC", title="AUROC")
    a2.legend()
    save(fig, "loss_curves.png")
    return paths


def classification_text(y: NDArray[np.generic], p: NDArray[np.generic], threshold: float) -> str:
    parts = []
    for t in (0.5, threshold):
        pred = (np.asarray(p) >= t).astype(int)
        rep = classification_report(
            y, pred, labels=[0, 1], target_names=["no event", "event"], zero_division=0
        )
        parts.append(f"threshold {t:.4f}\n{rep}")
    return "\n".join(parts)


def model_card(values: dict[str, Any], subgroups: Sequence[SubgroupResult]) -> str:
    """Fills docs/model-card-template.md; the subgroup table is rendered here."""
    template = (REPO_ROOT / "docs" / "model-card-template.md").read_text()
    rows = ["| attribute | group | rows | positives | AUROC | gated |", "|---|---|---:|---:|---:|---|"]
    for s in subgroups:
        rows.append(
            f"| {s.attribute} | {s.group} | {s.n} | {s.positives} | "
            f"{'n/a' if np.isnan(s.auroc) else f'{s.auroc:.4f}'} | {'yes' if s.gated else 'no (too few)'} |"
        )
    filled = dict(values)
    filled["subgroup_table"] = "\n".join(rows)
    return template.format(**{k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in filled.items()})
