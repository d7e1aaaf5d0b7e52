#!/usr/bin/env bash
# GPU check for issue 6: one training on CUDA end to end, no network, no services. MLflow is the
# embedded one (SQLite under a temporary folder) when mlflow is installed; without it the run writes
# files only (--no-mlflow) and says so. Needs python3 with torch (CUDA), onnx, onnxruntime,
# scikit-learn, matplotlib, pandas, pyarrow, pydantic, pyyaml.
#   ml/gpu_check.sh [DATA_FILE [extra `python -m ml train` flags...]]
#   DATA_FILE: a training frame (.parquet/.csv, e.g. from `python -m ml.physionet`); default synthetic.
# The last line of output is the run's JSON (metrics, device, seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
work="$(mktemp -d)"
export AEPRED_LOCAL_DIR="$work/local"
unset MLFLOW_TRACKING_URI
data="${1:-}"
shift || true
if [[ -z "$data" ]]; then
  data="$work/synthetic.parquet"
  python3 -c "from ml.data import synthetic_frame; synthetic_frame(n_patients=20000, hours=24, n_features=40, seed=0).to_parquet('$data')"
fi
python3 -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA device'; print('cuda:', torch.cuda.get_device_name(0), 'torch', torch.__version__)"
tracking=()
if ! python3 -c "import mlflow" 2>/dev/null; then
  echo "gpu_check: mlflow is not installed here; running with --no-mlflow (files only)" >&2
  tracking=(--no-mlflow)
fi
python3 -m ml train --data "$data" --out "$work/run" --device cuda --run-name gpu-check "${tracking[@]}" "$@"
