from pathlib import Path

import pytest

from ml.params import ParamsError, load_params
from ml.paths import REPO_ROOT


def test_shipped_params_load() -> None:
    params = load_params(REPO_ROOT / "params.yaml")
    assert params.seed >= 0


def test_unknown_key_is_rejected_naming_the_key(tmp_path: Path) -> None:
    p = tmp_path / "params.yaml"
    p.write_text("seed: 1\nlearnin_rate: 0.1\n")
    with pytest.raises(ParamsError, match="learnin_rate"):
        load_params(p)


def test_wrong_type_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "params.yaml"
    p.write_text("seed: -3\n")
    with pytest.raises(ParamsError, match="seed"):
        load_params(p)


def test_unreadable_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match=r"missing\.yaml"):
        load_params(tmp_path / "missing.yaml")
