#!/usr/bin/env bash
# Renders every kustomize overlay and validates it, offline, with kubeconform against the
# Kubernetes OpenAPI JSON schemas (strict: unknown fields are errors).
#   deploy/k8s/validate.sh            # base + every overlay; exit 0 when all are valid
#   deploy/k8s/validate.sh FILE...    # validate given manifests instead
# kubeconform comes from the Go module proxy at a pinned version; the schemas come from the
# kubernetes-validate package pinned in uv.lock (its "local-strict" set, whose $refs point at
# /api/_definitions.json: rewritten once here into file:// refs that kubeconform resolves).
set -euo pipefail
cd "$(dirname "$0")/../.."

KUBECONFORM_VERSION=v0.7.0
K8S_VERSION=1.37.0
BIN_DIR="${AEPRED_BIN_DIR:-$HOME/.cache/aepred/bin}"
KUBECONFORM="$BIN_DIR/kubeconform"
SCHEMA_ROOT="${AEPRED_K8S_SCHEMAS:-$HOME/.cache/aepred/k8s-schemas}"
PY=.venv/bin/python

if [ ! -x "$KUBECONFORM" ] || ! "$KUBECONFORM" -v 2>/dev/null | grep -q "${KUBECONFORM_VERSION#v}"; then
  mkdir -p "$BIN_DIR"
  GOBIN="$BIN_DIR" GOFLAGS=-mod=mod go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
fi

SCHEMA_DIR="$SCHEMA_ROOT/v$K8S_VERSION-standalone-strict"
if [ ! -f "$SCHEMA_DIR/.complete" ]; then
  "$PY" - "$K8S_VERSION" "$SCHEMA_DIR" <<'PYEOF'
import pathlib, sys
import kubernetes_validate

version, out = sys.argv[1], pathlib.Path(sys.argv[2])
src = pathlib.Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{version}-local-strict"
if not src.is_dir():
    sys.exit(f"kubernetes-validate has no schemas for v{version}: {src}")
out.mkdir(parents=True, exist_ok=True)
ref = '"file://' + str(out.resolve()) + "/_definitions.json#"
for f in src.glob("*.json"):
    (out / f.name).write_text(f.read_text().replace('"/api/_definitions.json#', ref))
(out / ".complete").write_text(version + "\n")
PYEOF
fi

# kubectl carries kustomize; without it, the standalone kustomize from the Go module proxy.
render() {
  if command -v kubectl >/dev/null 2>&1; then
    kubectl kustomize "$1"
  else
    [ -x "$BIN_DIR/kustomize" ] || GOBIN="$BIN_DIR" go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0
    "$BIN_DIR/kustomize" build "$1"
  fi
}

conform() {
  "$KUBECONFORM" -strict -summary -output text -kubernetes-version "$K8S_VERSION" \
    -schema-location "$SCHEMA_ROOT/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$@"
}

if [ $# -gt 0 ]; then
  conform "$@"
  exit
fi
status=0
for dir in deploy/k8s/base deploy/k8s/overlays/*/; do
  dir="${dir%/}"
  echo "== $dir"
  render "$dir" | conform - || status=1
done
exit $status
