#!/usr/bin/env bash
# Installs what is missing and runs every test: the Swift suite (real libsodium, TLS on loopback,
# SQLite, a crash loop against a real `vangnet serve`, the review page in headless Chromium), then
# the independent Python client against the test vectors and a running gateway. Arguments go to
# `swift test` (for example --filter). VANGNET_CRASH_POINTS=200 lengthens the crash loop (default 20).
# The store suite also runs against PostgreSQL when VANGNET_POSTGRES_URL is set
# (`export VANGNET_POSTGRES_URL=$(scripts/postgres-test-db.sh)`; CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# Where Chromium is installed, its test must run, not skip.
if command -v chromium >/dev/null; then export VANGNET_REQUIRE_CHROMIUM=1; fi
# The code's format (.swift-format, swift-nio's settings: 4 spaces, 120 columns) is part of the test.
swift format lint --strict --recursive --parallel Sources Tests Package.swift Toolchain
swift build --build-tests
swift test --skip-build "$@"

venv=.build/python-venv
if ! "$venv/bin/python" -c "import nacl, pytest, jsonschema" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q pynacl pytest jsonschema
fi
VANGNET_BIN="$PWD/.build/debug/vangnet" "$venv/bin/pytest" -q clients/python/tests

# The HTTP API against its OpenAPI document, on a running gateway.
scripts/live-check.sh
