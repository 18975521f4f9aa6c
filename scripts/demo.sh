#!/usr/bin/env bash
# The front door: installs what is missing, builds, and runs the end-to-end demo.
# Extra arguments go to `vangnet demo` (for example --data-dir demo-data to keep its files).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --product vangnet
exec .build/debug/vangnet demo "$@"
