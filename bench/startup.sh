#!/usr/bin/env bash
# Cold start of ctrx against the bare runtimes (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
node dist/bench/startup.js "${1:-30}"
