"""params.yaml has two hand-kept schemas: zod (src/config/params.ts, exported to
contracts/params.schema.json by `npx tsx scripts/params-schema.ts`) and pydantic (ml/params.py).
This test flattens both into facts per key path (required or optional, default, type, bounds,
strictness) and fails on any difference that is not on the allow-list below, naming the path.

Paths: `monitoring.auroc_max_drop`; `x[]` is an array's items, `x{}` a map's values, `x[0]` a tuple slot.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from ml.params import Params, ParamsError, load_params

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "contracts" / "params.schema.json"
REGENERATE = "npx tsx scripts/params-schema.ts"

# zod's .int() is a safe integer (|n| <= 2^53 - 1); Python ints are unbounded. No parameter comes
# near it, so this bound is dropped rather than listed for every integer.
JS_MAX_SAFE_INTEGER = 2**53 - 1

# Subtrees only one side models: no path below them is compared (the root itself still is).
UNMODELLED: dict[str, str] = {
    "simulator": "the simulator is TypeScript; ml/params.py carries the section as dict[str, Any] "
    "and src/sim/params.ts validates it",
}

# (path, fact) -> why the two schemas may differ there. An entry that no longer matches a difference
# fails the test, so the list cannot outlive the drift it excuses.
ALLOWED: dict[tuple[str, str], str] = {}

BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
COMPARED = (*BOUNDS, "minLength", "maxLength", "minItems", "maxItems", "pattern", "format", "enum")
MISSING = "<absent>"


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, got {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _node_facts(node: dict[str, Any]) -> dict[str, Any]:
    """The comparable facts of one schema node, normalised so equivalent spellings compare equal."""
    facts: dict[str, Any] = {"type": node.get("type", MISSING)}
    for key in COMPARED:
        if key in node:
            facts[key] = node[key]
    if "const" in node:
        facts["enum"] = [node["const"]]
    if facts["type"] == "integer":
        # Integers: > n is >= n + 1 and < n is <= n - 1 (zod .positive() vs pydantic ge=1).
        if "exclusiveMinimum" in facts:
            facts["minimum"] = max(facts.get("minimum", -float("inf")), facts.pop("exclusiveMinimum") + 1)
        if "exclusiveMaximum" in facts:
            facts["maximum"] = min(facts.get("maximum", float("inf")), facts.pop("exclusiveMaximum") - 1)
        if facts.get("maximum") == JS_MAX_SAFE_INTEGER:
            del facts["maximum"]
    if facts["type"] == "object":
        facts["additionalProperties"] = node.get("additionalProperties", True) is not False
    return facts


def flatten(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """path -> facts for every node of a JSON Schema (either side's)."""
    out: dict[str, dict[str, Any]] = {}

    def walk(node: dict[str, Any], path: str) -> None:
        node = _resolve(node, schema)
        facts: dict[str, Any] = {}
        variants = node.get("anyOf")
        if variants is not None:
            variants = [_resolve(v, schema) for v in variants]
            non_null = [v for v in variants if v.get("type") != "null"]
            facts["nullable"] = len(non_null) < len(variants)
            if len(non_null) != 1:
                raise ValueError(
                    f"{path or '(root)'}: a union of {len(non_null)} non-null types is not compared"
                )
            node = {**non_null[0], **{k: v for k, v in node.items() if k != "anyOf"}}
        else:
            facts["nullable"] = node.get("type") == "null"
        facts.update(_node_facts(node))
        out[path] = facts
        prefix = f"{path}." if path else ""
        required = set(node.get("required", []))
        for key, child in node.get("properties", {}).items():
            child_path = f"{prefix}{key}"
            child = _resolve(child, schema)
            walk(child, child_path)
            out[child_path]["required"] = key in required
            out[child_path]["default"] = json.dumps(child["default"]) if "default" in child else MISSING
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            walk(extra, f"{path}{{}}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")
        for i, slot in enumerate(node.get("prefixItems", [])):
            walk(slot, f"{path}[{i}]")

    walk(schema, "")
    return out


def differences(zod: dict[str, Any], pydantic: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(path, fact) -> what each side says, for every difference outside the unmodelled subtrees."""
    a, b = flatten(zod), flatten(pydantic)

    def unmodelled(path: str) -> bool:
        return any(path.startswith(root) and path != root for root in UNMODELLED)

    found: dict[tuple[str, str], str] = {}
    for path in sorted(set(a) | set(b)):
        if unmodelled(path):
            continue
        if path not in b:
            found[(path, "key")] = "only in zod (src/config/params.ts), not in pydantic (ml/params.py)"
            continue
        if path not in a:
            found[(path, "key")] = "only in pydantic (ml/params.py), not in zod (src/config/params.ts)"
            continue
        if path in UNMODELLED:
            # One side is a free-form map: compare only whether the key exists and is required.
            facts: tuple[str, ...] = ("required",)
        else:
            facts = tuple(sorted(set(a[path]) | set(b[path])))
        for fact in facts:
            za, pb = a[path].get(fact, MISSING), b[path].get(fact, MISSING)
            if za != pb:
                found[(path, fact)] = f"zod {za!r} vs pydantic {pb!r}"
    return found


@pytest.fixture(scope="module")
def zod_schema() -> dict[str, Any]:
    if not SCHEMA_PATH.exists():
        pytest.fail(f"{SCHEMA_PATH} is missing; run `{REGENERATE}`")
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


@pytest.fixture(scope="module")
def pydantic_schema() -> dict[str, Any]:
    return Params.model_json_schema(mode="validation")


def test_zod_and_pydantic_schemas_agree(zod_schema: dict[str, Any], pydantic_schema: dict[str, Any]) -> None:
    found = differences(zod_schema, pydantic_schema)
    unexpected = {k: v for k, v in found.items() if k not in ALLOWED}
    stale = sorted(k for k in ALLOWED if k not in found)
    lines = [f"  {path} [{fact}]: {what}" for (path, fact), what in sorted(unexpected.items())]
    lines += [
        f"  {path} [{fact}]: on the allow-list but no longer differs; remove it" for path, fact in stale
    ]
    assert not lines, (
        "params.yaml schemas drifted apart (zod: src/config/params.ts via contracts/params.schema.json, "
        f"regenerate with `{REGENERATE}`; pydantic: ml/params.py):\n" + "\n".join(lines)
    )


def test_every_section_is_compared(zod_schema: dict[str, Any], pydantic_schema: dict[str, Any]) -> None:
    """Guards the walker: both sides flatten to the same top-level sections, with leaves below them."""
    a, b = flatten(zod_schema), flatten(pydantic_schema)
    sections = set(zod_schema["properties"])
    assert {p for p in a if p and "." not in p and "[" not in p} == sections
    assert {p for p in b if p and "." not in p and "[" not in p} == sections
    for section in sections - set(UNMODELLED):
        if a[section]["type"] != "object":
            continue
        assert any(p.startswith(f"{section}.") for p in a), f"{section}: no keys flattened"
    assert a["monitoring.min_positives"]["default"] == "10"
    assert b["training.batch_size"]["minimum"] == 1


def test_comparison_names_the_drift(zod_schema: dict[str, Any], pydantic_schema: dict[str, Any]) -> None:
    """A key on one side only, a changed bound, default or required status are each reported by path."""
    drifted = copy.deepcopy(zod_schema)
    monitoring = drifted["properties"]["monitoring"]
    monitoring["properties"]["new_knob"] = {"type": "number"}
    monitoring["properties"]["segment_ks_threshold"]["default"] = 0.3
    monitoring["properties"]["ks_threshold"]["exclusiveMaximum"] = 0.5
    monitoring["required"].remove("psi_bins")
    del drifted["properties"]["gates"]["properties"]["age_bins"]
    found = differences(drifted, pydantic_schema)
    assert "only in zod" in found[("monitoring.new_knob", "key")]
    assert "only in pydantic" in found[("gates.age_bins", "key")]
    assert found[("monitoring.segment_ks_threshold", "default")] == "zod '0.3' vs pydantic '0.25'"
    assert found[("monitoring.ks_threshold", "exclusiveMaximum")] == "zod 0.5 vs pydantic 1"
    assert found[("monitoring.psi_bins", "required")] == "zod False vs pydantic True"


def test_allow_list_reasons_are_given() -> None:
    for (path, fact), why in ALLOWED.items():
        assert len(why) > 20, f"{path} [{fact}]: say why the schemas may differ here"


def test_params_yaml_validates_against_the_zod_schema(zod_schema: dict[str, Any]) -> None:
    validator = Draft202012Validator(zod_schema)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    errors = [
        f"  {'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator.iter_errors(params)
    ]
    assert not errors, "params.yaml fails contracts/params.schema.json:\n" + "\n".join(errors)


def test_the_json_schema_rejects_bad_params(zod_schema: dict[str, Any]) -> None:
    validator = Draft202012Validator(zod_schema)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["monitoring"]["ks_treshold"] = 0.2  # a typo: unknown keys are rejected
    params["alerts"]["watch_threshold"] = 1.5
    bad = {"/".join(map(str, e.absolute_path)) or "(root)" for e in validator.iter_errors(params)}
    assert bad == {"monitoring", "alerts/watch_threshold"}


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    """Sets `a.b.c` in a params document; `_DROP` deletes the key."""
    *parents, leaf = path.split(".")
    node = doc
    for key in parents:
        node = node[key]
    if value is _DROP:
        del node[leaf]
    else:
        node[leaf] = value


_DROP = object()

# The rules that used to differ (see git history of ALLOWED): each bad value must be rejected by BOTH
# pydantic (load_params) and the zod schema's export, at the key named here.
REJECTED = [
    ("pipeline.start", "2024-01-01T00:00:00", "naive"),
    ("pipeline.start", "2024-01-01", "date only"),
    ("pipeline.end", "2024-01-22T00:00", "no seconds"),
    ("pipeline.end", "2024-01-22 00:00:00+00:00", "space instead of T"),
    ("pipeline.end", "2024-02-30T00:00:00Z", "no such day"),
    ("pipeline.start", "2024-01-01T00:00:00+0100", "offset without a colon"),
    ("pipeline.source", "", "empty source"),
    ("training.hidden_sizes", [64, 0], "zero-width layer"),
    ("training.hidden_sizes", [-8], "negative layer"),
    ("monitoring.drift_rule_exclude", ["*_count_*", ""], "empty pattern"),
    ("retraining.dvc_stages", ["train", ""], "empty stage name"),
    ("retraining.max_epochs", 0, "zero epochs"),
]
ACCEPTED = [
    ("pipeline.start", "2023-12-31T23:00:00-01:00", "an offset"),
    ("pipeline.start", "2024-01-01T00:00:00Z", "Z"),
    ("pipeline.end", "2024-01-22T00:00:00.250+00:00", "a fraction"),
    ("pipeline.end", "2024-02-29T00:00:00Z", "a leap day"),
    ("retraining.max_epochs", _DROP, "max_epochs left out: null, training.max_epochs applies"),
    ("retraining.max_epochs", 3, "max_epochs set"),
    ("monitoring.drift_rule_exclude", _DROP, "no exclusions"),
    ("retraining.dvc_stages", [], "no stages"),
]


def _params_with(path: str, value: Any) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "params.yaml").read_text())
    _set(doc, path, value)
    return doc


def _zod_errors(zod_schema: dict[str, Any], doc: dict[str, Any]) -> set[str]:
    return {".".join(map(str, e.absolute_path)) for e in Draft202012Validator(zod_schema).iter_errors(doc)}


def _pydantic_error(tmp_path: Path, doc: dict[str, Any]) -> str | None:
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))  # as write_params and the test clones write it
    try:
        load_params(p)
    except ParamsError as e:
        return str(e)
    return None


@pytest.mark.parametrize(("path", "value", "why"), REJECTED, ids=[f"{p} {w}" for p, _, w in REJECTED])
def test_both_schemas_reject(
    zod_schema: dict[str, Any], tmp_path: Path, path: str, value: Any, why: str
) -> None:
    doc = _params_with(path, value)
    zod = _zod_errors(zod_schema, doc)
    assert zod and all(e.startswith(path) for e in zod), f"zod export ({why}): {zod}"
    message = _pydantic_error(tmp_path, doc)
    assert message is not None, f"pydantic accepted {path}={value!r} ({why})"
    assert f"{path}" in message, message


@pytest.mark.parametrize(("path", "value", "why"), ACCEPTED, ids=[f"{p} {w}" for p, _, w in ACCEPTED])
def test_both_schemas_accept(
    zod_schema: dict[str, Any], tmp_path: Path, path: str, value: Any, why: str
) -> None:
    doc = _params_with(path, value)
    assert _zod_errors(zod_schema, doc) == set(), why
    assert _pydantic_error(tmp_path, doc) is None, why
