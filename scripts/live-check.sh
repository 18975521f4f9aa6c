#!/usr/bin/env bash
# Checks a running gateway (the demo's data, served again on a free port):
# - its API against docs/openapi.yaml with schemathesis (from PyPI), as each role: every documented
#   operation, generated valid and invalid requests, responses checked against the document
#   (status codes, content types, schemas, no server errors, 405 for other methods);
# - its TLS against the NCSC-NL guidelines with sslyze (from PyPI), judged by scripts/tls-policy.py:
#   fails on any weaker protocol, suite or curve, compression, 0-RTT or renegotiation.
# Run by scripts/test.sh after the Swift build.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/python-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
[ -x "$venv/bin/schemathesis" ] || "$venv/bin/pip" install -q schemathesis
[ -x "$venv/bin/sslyze" ] || "$venv/bin/pip" install -q sslyze
dir=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
# A gateway with data in it: the demo's files, served again on a free port.
.build/debug/vangnet demo --data-dir "$dir" > /dev/null
sed -i 's/"port" : [0-9]*/"port" : 0/' "$dir/vangnet.json"
.build/debug/vangnet serve --config "$dir/vangnet.json" --log-format text > "$dir/serve.out" 2> "$dir/serve.err" &
pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/serve.out" | head -1)
[ -n "$port" ] || { echo "the gateway did not start" >&2; cat "$dir/serve.err" >&2; exit 1; }
for who in auditor region-utrecht approver-utrecht duo monitor; do
  echo "schemathesis as $who"
  "$venv/bin/schemathesis" run docs/openapi.yaml --url "https://127.0.0.1:$port" \
    --tls-verify "$dir/certs/ca.pem" --request-cert "$dir/certs/$who.pem" --request-cert-key "$dir/certs/$who.key" \
    --max-examples 25 --seed 20261123 --exclude-checks positive_data_acceptance --no-color > "$dir/st-$who.log" 2>&1 \
    || { cat "$dir/st-$who.log"; exit 1; }
  grep -E "generated" "$dir/st-$who.log" | tail -1
done
echo "TLS policy scan (sslyze, NCSC-NL guidelines)"
"$venv/bin/sslyze" --cert "$dir/certs/monitor.pem" --key "$dir/certs/monitor.key" --mozilla_config disable \
  --sslv2 --sslv3 --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3 --elliptic_curves --compression --early_data --reneg \
  --heartbleed --openssl_ccs --json_out "$dir/tls-scan.json" "127.0.0.1:$port" > "$dir/tls-scan.log" 2>&1 \
  || { cat "$dir/tls-scan.log"; exit 1; }
python3 scripts/tls-policy.py "$dir/tls-scan.json"
