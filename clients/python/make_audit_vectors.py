"""Writes docs/test-vectors/audit-v1.json: two audit entries as the auditor API gives them, their
canonical bytes and chain hashes, and a checkpoint signed with a fixed test-only key (Ed25519 is
deterministic, so every run writes the same file). Nothing trusts the key."""

import base64
import hashlib
import json
import os

from nacl.signing import SigningKey

from vangnet_client.audit import GENESIS, canonical, chain_hash, checkpoint_message, milliseconds

seed = hashlib.sha256(b"vangnet test vector: audit signing key").digest()
key = SigningKey(seed)
entries = [
    {"seq": 1, "time": "2026-11-23T12:00:00.123Z", "actor": "00000099000000000221", "role": "consumer",
     "action": "records.pull", "object": "purpose:vsv-opvolging/policy:6f31", "region": 21,
     "purpose": "vsv-opvolging", "outcome": "success", "counts": {"records": 3, "pages": 1}},
    {"seq": 2, "time": "2026-11-23T12:00:01.000Z", "action": "tls.handshake", "object": "peer:127.0.0.1",
     "outcome": "refused", "reason": "no \"certificate\"\tgiven", "counts": {}},
]
previous, rows = GENESIS, []
for entry in entries:
    event = canonical(entry)
    previous = chain_hash(previous, entry["seq"], event)
    entry["hash"] = previous.hex()
    rows.append({"entry": entry, "canonical": event.decode(), "hash": previous.hex()})
time = milliseconds("2026-11-23T12:00:02.000Z")
checkpoint = {"sequence": 2, "hash": previous.hex(), "time": time, "keyId": None,
              "signature": base64.b64encode(key.sign(checkpoint_message(2, previous.hex(), time)).signature).decode()}
vectors = {
    "description": "Vangnet audit chain v1 test vectors (docs/audit.md). Test-only key; nothing trusts it.",
    "auditSigningSeed": seed.hex(),
    "auditKey": base64.b64encode(bytes(key.verify_key)).decode(),
    "entries": rows,
    "checkpoint": {k: v for k, v in checkpoint.items() if v is not None},
}
path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "test-vectors", "audit-v1.json")
with open(path, "w") as f:
    json.dump(vectors, f, indent=2, ensure_ascii=False)
    f.write("\n")
print(f"wrote {os.path.normpath(path)}")
