"""Verifying the gateway's audit chain from the auditor API alone (docs/audit.md).

    verdict = verify_audit(gateway="https://gw:8443", cert="auditor.pem", key="auditor.key", ca="ca.pem",
                           audit_key=open("audit-signing.pub").read())
    assert verdict.intact, verdict.problem

Every entry's hash is recomputed from its fields, in order from entry 1, and every signed
checkpoint is checked against the audit key and against the recomputed chain.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import ssl
from dataclasses import dataclass
from datetime import datetime
from http.client import HTTPSConnection
from urllib.parse import urlencode, urlsplit

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

GENESIS = bytes(32)
DOMAIN = b"vangnet/audit/v1\x00"
# The members an entry has in the API beside its event; the canonical form leaves them out.
NOT_IN_EVENT = ("seq", "hash")


def _string(value: str) -> str:
    """A JSON string as the gateway writes it: only `"`, `\\`, and control characters escaped."""
    out = ['"']
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def milliseconds(text: str) -> int:
    """`2026-11-23T12:00:00.123Z` as whole milliseconds since 1970."""
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return calendar.timegm(moment.timetuple()) * 1000 + moment.microsecond // 1000


def canonical(entry: dict) -> bytes:
    """The canonical bytes of an API entry's event: members sorted by name, no spaces, absent
    members left out, `time` as integer milliseconds, `counts` with its keys sorted."""
    members = []
    for name in sorted(k for k in entry if k not in NOT_IN_EVENT and entry[k] is not None):
        value = entry[name]
        if name == "time":
            text = str(milliseconds(value))
        elif name == "counts":
            text = "{" + ",".join(f"{_string(k)}:{int(v)}" for k, v in sorted(value.items())) + "}"
        elif isinstance(value, bool):
            raise ValueError(f"an audit event has no boolean member ({name})")
        elif isinstance(value, int):
            text = str(value)
        else:
            text = _string(value)
        members.append(f"{_string(name)}:{text}")
    return ("{" + ",".join(members) + "}").encode()


def chain_hash(previous: bytes, sequence: int, event: bytes) -> bytes:
    return hashlib.blake2b(DOMAIN + previous + sequence.to_bytes(8, "big") + event, digest_size=32).digest()


def checkpoint_message(sequence: int, hash_hex: str, time: int) -> bytes:
    return f"vangnet/audit-checkpoint/v1\nsequence={sequence}\nhash={hash_hex}\ntime={time}\n".encode()


@dataclass
class Verdict:
    intact: bool
    entries: int
    checkpoints: int
    problem: str | None = None


def verify(entries: list[dict], checkpoints: list[dict], audit_key: bytes) -> Verdict:
    """Checks entries (from entry 1, in order) and checkpoints against the audit public key."""
    previous, hashes = GENESIS, {}
    for expected, entry in enumerate(entries, start=1):
        if entry["seq"] != expected:
            return Verdict(False, expected - 1, 0, f"entry {expected} is missing (next is {entry['seq']})")
        previous = chain_hash(previous, expected, canonical(entry))
        if previous.hex() != entry["hash"]:
            return Verdict(False, expected - 1, 0, f"entry {expected}: its hash does not follow from its fields and the entry before")
        hashes[expected] = entry["hash"]
    key, checked = VerifyKey(audit_key), 0
    for checkpoint in checkpoints:
        sequence, hash_hex = checkpoint["sequence"], checkpoint["hash"]
        try:
            key.verify(checkpoint_message(sequence, hash_hex, checkpoint["time"]), base64.b64decode(checkpoint["signature"]))
        except BadSignatureError:
            return Verdict(False, len(entries), checked, f"checkpoint {sequence}: the signature does not verify with the audit key")
        if sequence in hashes and hashes[sequence] != hash_hex:
            return Verdict(False, len(entries), checked, f"checkpoint {sequence}: the chain no longer reaches the signed hash")
        checked += sequence in hashes
    return Verdict(True, len(entries), checked)


def verify_audit(*, gateway: str, cert: str, key: str, ca: str, audit_key: str | None = None) -> Verdict:
    """Reads the whole chain and the checkpoints as an auditor and verifies them. `audit_key`
    (the base64 `audit-signing.pub`, got out of band) is the key the checkpoints must verify
    with; without it the key the gateway announces is used, which proves less."""
    context = ssl.create_default_context(cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(cert, key)
    url = urlsplit(gateway)
    connection = HTTPSConnection(url.hostname, url.port or 443, context=context, timeout=300)

    def get(path: str) -> dict:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {body.decode(errors='replace')}")
        return json.loads(body)

    try:
        # Checkpoints first: each read of entries is itself audited, after what it returned.
        published = get("/v1/audit/checkpoints")
        entries, after = [], 0
        while True:
            page = get("/v1/audit/entries?" + urlencode({"after": after, "limit": 1000}))
            entries += page["entries"]
            if page.get("next") is None:
                break
            after = page["next"]
    finally:
        connection.close()
    announced = base64.b64decode(published["auditKey"])
    trusted = base64.b64decode(audit_key.strip()) if audit_key else announced
    if trusted != announced:
        return Verdict(False, 0, 0, "the gateway announces another audit key than the one given")
    return verify(entries, published["checkpoints"], trusted)
