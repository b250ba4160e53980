#!/bin/sh
# Regenerates the Go stubs (sluice/v1, inference) from proto/ with buf.gen.go.yaml.
# Usage: clients/go/generate.sh [OUTPUT_ROOT]  (default: the repository itself; the stale check
# passes a temporary directory). Needs Go >= 1.24; the generators are pinned in tools/go.mod.
set -eu
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root}"
cd "$root"
if ! command -v go >/dev/null 2>&1; then
  echo "clients/go/generate.sh: the Go toolchain (>= 1.24) is needed to generate the Go stubs" >&2
  exit 1
fi
rm -rf "$out/clients/go/sluice/v1" "$out/clients/go/inference"
node_modules/.bin/buf generate --template buf.gen.go.yaml --output "$out"
