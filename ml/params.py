"""params.yaml, read by Python with the same strictness as src/config/params.ts.

Unknown keys are rejected (``extra="forbid"``) so a typo fails before any work starts.
Sections are added here and in the TypeScript schema together, as the components that read them
are built.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ml.paths import REPO_ROOT


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(ge=0)


class ParamsError(ValueError):
    """params.yaml is unreadable or invalid; the message names the file and every bad key."""


def load_params(path: Path | None = None) -> Params:
    path = path or REPO_ROOT / "params.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ParamsError(f"cannot read {path}: {e}") from e
    try:
        return Params.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in e.errors()
        )
        raise ParamsError(f"invalid parameters in {path}: {problems}") from e
