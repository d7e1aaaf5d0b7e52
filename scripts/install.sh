#!/usr/bin/env bash
# Installs everything aepred needs, idempotently: a second run only checks and skips.
# Caches stay outside the repository (npm: ~/.npm, uv: ~/.cache/uv, Maven: ~/.m2, Go and the
# stack's built binaries: ~/.cache/aepred), so a fresh clone sets up in minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
export UV_CACHE_DIR="${UV_CACHE_DIR:-$HOME/.cache/uv}"
export ONNXRUNTIME_NODE_INSTALL=skip
STAMPS=.local/stamps
mkdir -p "$STAMPS"

say() { printf '\033[1m[install]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_tool() {
  command -v "$1" >/dev/null 2>&1 || { echo "install: '$1' is required ($2) but not found on PATH" >&2; exit 1; }
}
need_tool node "Node.js 20"
need_tool npm "Node.js 20"
need_tool python3.11 "Python 3.11" 2>/dev/null || need_tool python3 "Python 3.11"
need_tool java "Java 17 for Kafka and Spark"
need_tool mvn "Maven, resolves the Kafka jars"
need_tool go "Go, builds MinIO"
node -e 'const [M,m]=process.versions.node.split(".").map(Number); if (M<20 || (M===20 && m<19)) { console.error("install: Node >= 20.19 needed, found "+process.version); process.exit(1) }'

# Debian packages for the local stack (and Chromium for the console's browser tests).
APT_PKGS=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || APT_PKGS+=(postgresql)
command -v redis-server >/dev/null || APT_PKGS+=(redis-server)
command -v prometheus >/dev/null || APT_PKGS+=(prometheus)
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || APT_PKGS+=(prometheus-alertmanager)
command -v chromium >/dev/null || APT_PKGS+=(chromium)
if [ ${#APT_PKGS[@]} -gt 0 ]; then
  say "apt: ${APT_PKGS[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${APT_PKGS[@]}" >/dev/null
  # Debian starts the packaged daemons on their default ports; aepred runs its own on its own ports.
  for svc in postgresql redis-server prometheus prometheus-alertmanager; do
    as_root service "$svc" stop >/dev/null 2>&1 || true
  done
else
  say "apt packages present"
fi

# Node dependencies, from the committed lock file.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ "$(cat "$STAMPS/npm" 2>/dev/null)" != "$lock_hash" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" >"$STAMPS/npm"
else
  say "node_modules up to date"
fi

# Python: uv (pinned) and the project's virtual environment, from uv.lock.
if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  say "uv $UV_VERSION"
  python3 -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi
py_hash=$(cat pyproject.toml uv.lock | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$STAMPS/uv" 2>/dev/null)" != "$py_hash" ]; then
  say "uv sync (.venv)"
  uv sync --frozen --python 3.11 -q
  echo "$py_hash" >"$STAMPS/uv"
else
  say ".venv up to date"
fi

# TypeScript build (incremental enough: tsc is quick on this tree).
say "tsc build"
npx tsc -p tsconfig.build.json
