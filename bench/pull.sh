#!/usr/bin/env bash
# Pull + unpack: ctrx against ctr + containerd (see bench/README.md). Root only.
#   bench/pull.sh [runs] [busybox|debian] [--deno]
set -euo pipefail
cd "$(dirname "$0")/.."
node dist/bench/pull.js "$@"
