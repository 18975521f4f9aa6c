#!/usr/bin/env bash
# Installs (if missing) and starts a local PostgreSQL server with a test database for the store
# behaviour suite, and prints the URL to put in VANGNET_POSTGRES_URL. Needs root or sudo.
#   export VANGNET_POSTGRES_URL=$(scripts/postgres-test-db.sh)
set -euo pipefail
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v pg_lsclusters >/dev/null; then
  $sudo apt-get update -qq >&2 && $sudo apt-get install -y -qq postgresql >&2
fi
read -r version cluster port _ < <(pg_lsclusters --no-header | head -1)
$sudo pg_ctlcluster "$version" "$cluster" start >&2 2>/dev/null || true
psql_admin() { if [ -n "$sudo" ]; then sudo -u postgres psql -p "$port" -tAc "$1"; else su postgres -c "psql -p $port -tAc \"$1\""; fi; }
for _ in $(seq 1 50); do psql_admin "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
psql_admin "SELECT 1 FROM pg_roles WHERE rolname = 'vangnet'" | grep -q 1 || psql_admin "CREATE USER vangnet PASSWORD 'vangnet-test'" >&2
psql_admin "SELECT 1 FROM pg_database WHERE datname = 'vangnet_test'" | grep -q 1 || psql_admin "CREATE DATABASE vangnet_test OWNER vangnet" >&2
echo "postgres://vangnet:vangnet-test@127.0.0.1:$port/vangnet_test"
