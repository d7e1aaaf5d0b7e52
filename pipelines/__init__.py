"""Batch pipelines: PySpark silver/features (issue 5), DVC and Kubeflow definitions (issue 10)."""
