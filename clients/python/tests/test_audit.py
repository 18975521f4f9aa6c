"""The Python audit verifier against the published audit vectors (docs/test-vectors/audit-v1.json)."""

import base64
import copy
import json
import os

from vangnet_client.audit import canonical, chain_hash, verify, GENESIS

VECTORS = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "test-vectors", "audit-v1.json")))
KEY = base64.b64decode(VECTORS["auditKey"])
ENTRIES = [row["entry"] for row in VECTORS["entries"]]


def test_canonical_bytes_and_hashes_are_the_vectors():
    previous = GENESIS
    for row in VECTORS["entries"]:
        assert canonical(row["entry"]).decode() == row["canonical"]
        previous = chain_hash(previous, row["entry"]["seq"], canonical(row["entry"]))
        assert previous.hex() == row["hash"] == row["entry"]["hash"]


def test_the_vectors_verify_and_any_change_is_found():
    assert verify(ENTRIES, [VECTORS["checkpoint"]], KEY).intact
    changed = copy.deepcopy(ENTRIES)
    changed[1]["reason"] = "no certificate given"
    assert not verify(changed, [VECTORS["checkpoint"]], KEY).intact
    reordered = copy.deepcopy(ENTRIES)
    reordered[0]["counts"] = {"pages": 1, "records": 3}  # key order is free: the same event
    assert verify(reordered, [VECTORS["checkpoint"]], KEY).intact
    forged = dict(VECTORS["checkpoint"], time=VECTORS["checkpoint"]["time"] + 1)
    assert "signature" in verify(ENTRIES, [forged], KEY).problem
