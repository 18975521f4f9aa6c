#!/usr/bin/env bash
# Installs what is missing and runs the whole test suite (real libsodium, TLS on loopback, SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
