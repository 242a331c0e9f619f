#!/usr/bin/env bash
# Installs the Debian packages ctrx and its test suite use (run as root).
# Only what is missing is installed; nothing is downloaded from outside the
# package registries.
set -euo pipefail
pkgs=(
  runc                 # the OCI runtime ctrx drives
  containerd           # the interoperability oracle in tests (started on private dirs only)
  docker-registry      # local registries for pull/push tests
  apache2-utils        # htpasswd for the protected registry
  busybox-static       # fixture images
  golang-go golang-github-coreos-bbolt-dev   # Go bbolt's own check, the oracle for database files
  skopeo umoci         # archive interoperability
  redis-server redis-tools                  # the README's main job and its fixture image
  zstd                 # zstd layers on Node 20 (its zlib has no zstd)
  strace openssl procps bsdutils             # fault injection, TLS test certificates, pgrep, script(1)
  debootstrap tmux jq iproute2 util-linux
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
