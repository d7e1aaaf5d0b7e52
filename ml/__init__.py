"""Model training, evaluation, ONNX export and registry (issue 6)."""
