"""ONNX export of the serving graph, its metadata, and scoring through ONNX Runtime.

Graph contract (read by the TypeScript ModelSupervisor, issue 7):
- input  ``features``    float32 [N, F], raw values in ``feature_names`` order, NaN where missing;
- output ``risk``        float32 [N], calibrated probability of an event within the horizon;
- output ``attribution`` float32 [N, F], integrated gradients of the calibrated logit (ml/model.py).
metadata_props: feature_set_hash, feature_set_version, feature_names (JSON), model_version,
horizon_hours, threshold, attribution.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from numpy.typing import NDArray

from ml.model import ServingModel

OPSET = 17
INPUT = "features"
OUTPUTS = ("risk", "attribution")


def export(model: ServingModel, n_features: int, path: Path, metadata: dict[str, str]) -> Path:
    model.eval()
    example = torch.zeros(2, n_features, dtype=torch.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The TorchScript exporter on purpose: the graph is plain tensor ops with a fixed layer loop, and
    # the torch.export-based exporter (dynamo=True) gave the same graph to 6e-8 but took ~50 s per
    # export here against ~1 s. torch is pinned in uv.lock; revisit when the legacy path is removed.
    torch.onnx.export(
        model,
        (example,),
        str(path),
        input_names=[INPUT],
        output_names=list(OUTPUTS),
        dynamic_axes={INPUT: {0: "batch"}, "risk": {0: "batch"}, "attribution": {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )
    proto = onnx.load(str(path))
    for key, value in sorted(metadata.items()):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return path


def read_metadata(path: Path) -> dict[str, str]:
    proto = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}


def session(path: Path | bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # the service scores one patient at a time on one core
    src = path if isinstance(path, bytes) else str(path)
    return ort.InferenceSession(src, sess_options=opts, providers=["CPUExecutionProvider"])


def score(
    sess: ort.InferenceSession, x: NDArray[np.floating], batch: int = 65536
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    x = np.ascontiguousarray(x, dtype=np.float32)
    risks: list[NDArray[np.float32]] = []
    attrs: list[NDArray[np.float32]] = []
    for i in range(0, max(len(x), 1), batch):
        r, a = sess.run(list(OUTPUTS), {INPUT: x[i : i + batch]})
        risks.append(np.asarray(r, dtype=np.float32))
        attrs.append(np.asarray(a, dtype=np.float32))
    return np.concatenate(risks), np.concatenate(attrs)


def single_row_latency_ms(
    sess: ort.InferenceSession, x: NDArray[np.floating], runs: int = 300
) -> dict[str, float]:
    """Single-prediction latency on CPU (risk and attribution together), after a warm-up."""
    rows = np.ascontiguousarray(x[: max(1, min(len(x), runs))], dtype=np.float32)
    for i in range(min(20, len(rows))):
        sess.run(list(OUTPUTS), {INPUT: rows[i : i + 1]})
    times = []
    for i in range(runs):
        row = rows[i % len(rows) : i % len(rows) + 1]
        t0 = time.perf_counter()
        sess.run(list(OUTPUTS), {INPUT: row})
        times.append((time.perf_counter() - t0) * 1000)
    arr = np.asarray(times)
    return {
        "p50_ms": float(np.percentile(arr, 50)),
        "p95_ms": float(np.percentile(arr, 95)),
        "p99_ms": float(np.percentile(arr, 99)),
    }


def metadata_for(
    feature_names: tuple[str, ...],
    feature_set_hash: str,
    feature_set_version: str,
    model_version: str,
    horizon_hours: float | None,
    threshold: float,
    ig_steps: int,
) -> dict[str, str]:
    return {
        "feature_set_hash": feature_set_hash,
        "feature_set_version": feature_set_version,
        "feature_names": json.dumps(list(feature_names)),
        "model_version": model_version,
        "horizon_hours": "" if horizon_hours is None else f"{horizon_hours:g}",
        "threshold": f"{threshold:.6f}",
        "attribution": (
            f"integrated_gradients(steps={ig_steps}, baseline=imputation, target=calibrated_logit)"
        ),
    }
