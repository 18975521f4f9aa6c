#!/usr/bin/env bash
# Installs the system libraries Vangnet builds against (Debian / Ubuntu), if they are missing;
# with --test also what the tests use (Chromium and the NSS tools for the review page, OpenSSL).
# The Swift toolchain (6.1 or later) must already be on PATH.
set -euo pipefail
packages=(libsodium-dev libsqlite3-dev pkg-config)
if [ "${1:-}" = "--test" ]; then packages+=(chromium libnss3-tools openssl python3-venv); fi
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${missing[@]}"
fi
command -v swift >/dev/null || { echo "swift is not on PATH (Swift 6.1 or later is needed)" >&2; exit 1; }
