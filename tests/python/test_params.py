from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from ml.params import Params, ParamsError, load_params
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


def _shipped_text() -> str:
    return (REPO_ROOT / "params.yaml").read_text()


def test_naive_pipeline_time_is_rejected_saying_why(tmp_path: Path) -> None:
    p = tmp_path / "params.yaml"
    p.write_text(_shipped_text().replace("end: '2024-01-22T00:00:00+00:00'", "end: '2024-01-22T00:00:00'"))
    with pytest.raises(
        ParamsError, match=r"pipeline\.end: .*Z or a UTC offset.*ambiguous.*got '2024-01-22T00:00:00'"
    ):
        load_params(p)


def test_unquoted_timestamps_read_as_text_like_the_typescript_side(tmp_path: Path) -> None:
    """PyYAML would turn an unquoted timestamp into a datetime; the TypeScript YAML 1.2 reader keeps the
    text, so load_params does too and both validate the same string."""
    quoted = "start: '2024-01-01T00:00:00+00:00'"
    assert quoted in _shipped_text()
    p = tmp_path / "params.yaml"
    p.write_text(_shipped_text().replace(quoted, "start: 2024-01-01T00:00:00Z"))
    assert load_params(p).pipeline.start == "2024-01-01T00:00:00Z"
    p.write_text(_shipped_text().replace(quoted, "start: 2024-01-01"))
    with pytest.raises(ParamsError, match=r"pipeline\.start: .*got '2024-01-01'"):
        load_params(p)


def test_a_datetime_object_is_rejected_asking_for_a_quoted_string() -> None:
    raw = yaml.safe_load(_shipped_text())  # the stock loader: unquoted timestamps become datetimes
    raw["pipeline"]["start"] = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(ValidationError, match=r"pipeline\.start\n.*as a quoted string"):
        Params.model_validate(raw)


def test_python_writers_keep_the_window_valid(tmp_path: Path) -> None:
    """write_params and the test clones re-dump params.yaml with yaml.safe_dump: the window stays text."""
    shipped = load_params(REPO_ROOT / "params.yaml")
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(yaml.safe_load(_shipped_text()), sort_keys=False))
    again = load_params(p)
    assert (again.pipeline.start, again.pipeline.end) == (shipped.pipeline.start, shipped.pipeline.end)


def test_missing_retraining_max_epochs_means_training_max_epochs(tmp_path: Path) -> None:
    assert load_params(REPO_ROOT / "params.yaml").retraining.max_epochs is None
    text = _shipped_text()
    assert "  max_epochs: null" in text
    p = tmp_path / "params.yaml"
    p.write_text("\n".join(ln for ln in text.splitlines() if not ln.startswith("  max_epochs: null")))
    assert load_params(p).retraining.max_epochs is None
