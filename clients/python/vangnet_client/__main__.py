"""Command line: python -m vangnet_client check|seal|push|verify-audit ... (see README.md)."""

import argparse
import base64
import sys

from nacl.signing import SigningKey

from .audit import verify_audit
from .envelope import seal_file
from .push import push


def check_lines(schema_path: str, input_path: str, mode: str, created_at: str, institutions=None) -> int:
    """Prints each line the gateway would refuse, by number; returns how many."""
    from .records import RecordCheck

    check = RecordCheck.from_file(schema_path, created_at, institutions)
    refused = 0
    with open(input_path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip(" \t\r\n"):
                continue  # a blank line is not a record
            problem = check.problem(line.rstrip("\n"), mode=mode)
            if problem:
                refused += 1
                print(f"line {number}: {problem}", file=sys.stderr)
    return refused


def read_base64(path: str) -> bytes:
    with open(path) as f:
        return base64.b64decode(f.read().strip())


def _brin(text):
    return [b.strip() for b in text.split(",") if b.strip()] if text else None


def main() -> int:
    parser = argparse.ArgumentParser(prog="vangnet_client", description="Seal and push Vangnet batches.")
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("seal", help="sign and encrypt an NDJSON file into an envelope")
    s.add_argument("--input", required=True)
    s.add_argument("--output", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--source", required=True, help="the source's OIN")
    s.add_argument("--signing-key", required=True, help="file with the base64 Ed25519 seed")
    s.add_argument("--gateway-key", required=True, help="file with the gateway's base64 X25519 public key")
    s.add_argument("--batch-id")
    s.add_argument("--mode", choices=["full", "changes"], default="changes",
                   help="full: the file is your complete current picture of the dataset; changes: records added or changed, and withdrawals")
    s.add_argument("--schema", help="the dataset's JSON Schema: check every line first, and seal nothing if one fails")
    s.add_argument("--brin", help="with --schema, for an institution: its BRIN numbers (comma-separated)")
    s.add_argument("--schema-version", type=int,
                   help="the dataset version the records follow (default: the version of --schema, else 1)")
    c = commands.add_parser("check", help="check an NDJSON file against a dataset's JSON Schema and its x-vangnet rules")
    c.add_argument("--schema", required=True, help="docs/schemas/<dataset>.v<n>.schema.json or GET /v1/datasets/{id}/schema")
    c.add_argument("--input", required=True)
    c.add_argument("--mode", choices=["full", "changes"], default="changes")
    c.add_argument("--created-at", help="the batch's createdAt (RFC 3339); default now")
    c.add_argument("--brin", help="for a dataset that names its institution (mbo.niet-toelaatbaar): "
                                  "the sending institution's BRIN numbers (comma-separated)")
    p = commands.add_parser("push", help="push an envelope over mTLS; prints the receipt")
    p.add_argument("--envelope", required=True)
    p.add_argument("--gateway", default="https://127.0.0.1:8443")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ca", required=True)
    v = commands.add_parser("verify-audit", help="recompute the audit chain and check its signed checkpoints (auditor)")
    v.add_argument("--gateway", default="https://127.0.0.1:8443")
    v.add_argument("--cert", required=True)
    v.add_argument("--key", required=True)
    v.add_argument("--ca", required=True)
    v.add_argument("--audit-key", help="the gateway's audit-signing.pub, got out of band")
    args = parser.parse_args()
    if args.command == "verify-audit":
        audit_key = open(args.audit_key).read() if args.audit_key else None
        verdict = verify_audit(gateway=args.gateway, cert=args.cert, key=args.key, ca=args.ca, audit_key=audit_key)
        if not verdict.intact:
            print(f"broken: {verdict.problem}", file=sys.stderr)
            return 1
        print(f"intact: {verdict.entries} entries, {verdict.checkpoints} signed checkpoints reached")
        return 0
    if args.command == "check":
        from datetime import datetime, timezone

        created_at = args.created_at or datetime.now(timezone.utc).isoformat()
        refused = check_lines(args.schema, args.input, args.mode, created_at, _brin(args.brin))
        print(f"{refused} lines the gateway would refuse")
        return 1 if refused else 0
    if args.command == "seal":
        if args.schema:
            from datetime import datetime, timezone

            refused = check_lines(args.schema, args.input, args.mode, datetime.now(timezone.utc).isoformat(),
                                  _brin(args.brin))
            if refused:
                print(f"not sealed: {refused} lines the gateway would refuse", file=sys.stderr)
                return 1
        version = args.schema_version or (_schema_version(args.schema) if args.schema else 1)
        header = seal_file(args.input, args.output, source=args.source, dataset=args.dataset,
                           signing_key=SigningKey(read_base64(args.signing_key)),
                           gateway_public_key=read_base64(args.gateway_key), batch_id=args.batch_id, mode=args.mode,
                           schema_version=version)
        print(f"sealed {header.record_count} records of {args.dataset} v{version} ({args.mode}) "
              f"as batch {header.batch_id} into {args.output}")
        return 0
    result = push(args.envelope, gateway=args.gateway, cert=args.cert, key=args.key, ca=args.ca)
    if not result.ok:
        print(f"refused: {result.status} {result.body}", file=sys.stderr)
        return 1
    print(result.body, end="")
    return 0


def _schema_version(path: str) -> int:
    """The dataset version a published schema describes (`x-vangnet.version`)."""
    import json

    with open(path, encoding="utf-8") as f:
        return int(json.load(f)["x-vangnet"]["version"])


if __name__ == "__main__":
    sys.exit(main())
