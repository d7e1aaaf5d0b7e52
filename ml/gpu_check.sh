#!/usr/bin/env bash
# GPU check for issue 6: one training on CUDA end to end, no network, no services (embedded MLflow
# under a temporary folder). Needs python3 with the project's wheels installed (torch with CUDA,
# onnx, onnxruntime, scikit-learn, matplotlib, mlflow, pandas, pyarrow, pydantic, pyyaml).
#   ml/gpu_check.sh [DATA_FILE]     DATA_FILE: a training frame (.parquet/.csv); default: synthetic
# The last line of output is the run's JSON (metrics, device, seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
work="$(mktemp -d)"
export AEPRED_LOCAL_DIR="$work/local"
unset MLFLOW_TRACKING_URI
data="${1:-}"
if [[ -z "$data" ]]; then
  data="$work/synthetic.parquet"
  python3 -c "from ml.data import synthetic_frame; synthetic_frame(n_patients=20000, hours=24, n_features=40, seed=0).to_parquet('$data')"
fi
python3 -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA device'; print('cuda:', torch.cuda.get_device_name(0), 'torch', torch.__version__)"
python3 -m ml train --data "$data" --out "$work/run" --device cuda --run-name gpu-check
