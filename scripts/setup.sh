#!/usr/bin/env bash
# Installs the system libraries Vangnet builds against (Debian / Ubuntu), if they are missing;
# with --test also what the tests use (Chromium and the NSS tools for the review page, OpenSSL).
# The Swift toolchain (6.1 or later) must already be on PATH.
set -euo pipefail
packages=(libsodium-dev libsqlite3-dev pkg-config)
optional=()
if [ "${1:-}" = "--test" ]; then packages+=(openssl python3-venv); optional=(chromium libnss3-tools); fi
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
updated=""
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get update -qq && updated=1
  $sudo apt-get install -y -qq "${missing[@]}"
fi
# The review-page browser test needs these; where the distribution has no Chromium package (Ubuntu
# ships a snap) the test skips unless VANGNET_REQUIRE_CHROMIUM=1.
for p in "${optional[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 && continue
  [ -n "$updated" ] || { $sudo apt-get update -qq && updated=1; }
  $sudo apt-get install -y -qq "$p" || echo "setup: $p could not be installed; the browser test will skip" >&2
done
command -v swift >/dev/null || { echo "swift is not on PATH (Swift 6.1 or later is needed)" >&2; exit 1; }
