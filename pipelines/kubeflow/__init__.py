"""The training pipeline (issue 10): its steps (`steps.py`, shared by the DVC stages and the Kubeflow
components), the KFP v2 components and pipeline (`pipeline.py`), its compiled YAML (`pipeline.yaml`)
and the recurring-run schedule (`schedule.py`). See docs/pipelines.md."""
