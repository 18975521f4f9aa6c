"""The Python client against a real gateway: what it seals, the Swift gateway opens and commits."""

import base64
import copy
import json
import os
import ssl
import subprocess
from http.client import HTTPSConnection

from nacl.signing import SigningKey

from vangnet_client import push, seal_file, verify_audit, verify_receipt
from vangnet_client.audit import verify

DUO = "00000099000000000101"


def read_b64(path):
    with open(path) as f:
        return base64.b64decode(f.read().strip())


def synth(gateway, name, count, seed):
    path = os.path.join(gateway["tmp"], name)
    subprocess.run([gateway["bin"], "synth", "--dataset", "duo.onderwijsdeelname", "--count", str(count), "--seed", str(seed),
                    "--output", path], check=True)
    return path


def sealed(gateway, name, count, seed, signing_key=None):
    keys = os.path.join(gateway["dir"], "keys")
    out = os.path.join(gateway["tmp"], name + ".vgb")
    seal_file(synth(gateway, name + ".ndjson", count, seed), out, source=DUO, dataset="duo.onderwijsdeelname",
              signing_key=signing_key or SigningKey(read_b64(os.path.join(keys, "duo-signing.key"))),
              gateway_public_key=read_b64(os.path.join(keys, "gateway-box.pub")))
    return out


def push_as_duo(gateway, envelope):
    certs = os.path.join(gateway["dir"], "certs")
    return push(envelope, gateway=gateway["url"], cert=os.path.join(certs, "duo.pem"), key=os.path.join(certs, "duo.key"),
                ca=os.path.join(certs, "ca.pem"), retries=0)


def test_python_sealed_batch_is_committed_with_a_signed_receipt(gateway):
    result = push_as_duo(gateway, sealed(gateway, "first", 120, 11))
    assert result.status == 201, result.body
    receipt = verify_receipt(result.body, read_b64(os.path.join(gateway["dir"], "keys", "gateway-signing.pub")))
    assert receipt["accepted"] == 120 and receipt["rejected"] == 0


def test_retry_of_the_same_envelope_returns_the_first_receipt(gateway):
    envelope = sealed(gateway, "retry", 30, 12)
    first, second = push_as_duo(gateway, envelope), push_as_duo(gateway, envelope)
    assert (first.status, second.status) == (201, 200)
    assert first.body == second.body


def test_tampered_envelope_is_refused(gateway):
    envelope = sealed(gateway, "tampered", 30, 13)
    data = bytearray(open(envelope, "rb").read())
    data[len(data) // 2] ^= 1
    open(envelope, "wb").write(bytes(data))
    result = push_as_duo(gateway, envelope)
    assert (result.status, result.error) == (400, "envelope_decryption_failed")


def test_truncated_envelope_is_refused(gateway):
    envelope = sealed(gateway, "truncated", 30, 14)
    data = open(envelope, "rb").read()
    open(envelope, "wb").write(data[:-10])
    result = push_as_duo(gateway, envelope)
    assert (result.status, result.error) == (400, "envelope_truncated")


def test_batch_signed_with_an_unregistered_key_is_refused(gateway):
    result = push_as_duo(gateway, sealed(gateway, "unregistered", 30, 15, signing_key=SigningKey.generate()))
    assert (result.status, result.error) == (403, "unknown_signing_key")


def elfproef_bsns(start):
    """Synthetic nine-digit numbers that pass the elfproef (test data only)."""
    n = start
    while True:
        digits = [int(c) for c in f"{n:09d}"]
        if sum(d * w for d, w in zip(digits, [9, 8, 7, 6, 5, 4, 3, 2, -1])) % 11 == 0:
            yield f"{n:09d}"
        n += 1


def utrecht_leaver(bsn):
    return ('{"bsn":"%s","geboortedatum":"2008-05-01","gemeentecode":"GM0344","brin":"31QQ","onderwijssoort":"mbo",'
            '"niveau":"2","inschrijvingsdatum":"2024-08-20","uitschrijvingsdatum":"2025-03-01","startkwalificatie":false,"vsv":true}') % bsn


def test_a_region_keeps_its_copy_with_the_changes_after_a_second_complete_picture(gateway):
    from vangnet_client import apply, pull_all

    keys, certs = os.path.join(gateway["dir"], "keys"), os.path.join(gateway["dir"], "certs")
    generator = elfproef_bsns(400000000)
    people = [next(generator) for _ in range(12)]

    def push_picture(name, lines):
        path = os.path.join(gateway["tmp"], name + ".ndjson")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        out = os.path.join(gateway["tmp"], name + ".vgb")
        header = seal_file(path, out, source=DUO, dataset="duo.onderwijsdeelname", mode="full",
                           signing_key=SigningKey(read_b64(os.path.join(keys, "duo-signing.key"))),
                           gateway_public_key=read_b64(os.path.join(keys, "gateway-box.pub")))
        assert header.mode == "full"
        result = push_as_duo(gateway, out)
        assert result.status == 201, result.body

    utrecht = dict(gateway=gateway["url"], cert=os.path.join(certs, "region-utrecht.pem"), key=os.path.join(certs, "region-utrecht.key"),
                   ca=os.path.join(certs, "ca.pem"), purpose="vsv-opvolging")
    push_picture("month1", [utrecht_leaver(b) for b in people])
    picture, cursor = pull_all(**utrecht, view="current", limit=4)
    copy = apply({}, picture)
    # DUO's complete picture is only these twelve: anything else it sent before is withdrawn too.
    assert sum(1 for r in copy.values() if r["brin"] == "31QQ") == 12

    # Next month: three are no longer reported, one moved within the region, two are new.
    month2 = [utrecht_leaver(b) for b in people[3:]]
    month2[0] = month2[0].replace('"GM0344"', '"GM0355"')
    month2 += [utrecht_leaver(next(generator)) for _ in range(2)]
    push_picture("month2", month2)
    changes, cursor = pull_all(**utrecht, cursor=cursor, limit=3)
    assert sorted(line["change"] for line in changes) == ["upsert"] * 3 + ["withdraw"] * 3
    apply(copy, changes)
    now, _ = pull_all(**utrecht, view="current", limit=5)
    assert copy == apply({}, now)
    assert len(copy) == 11
    # Nothing since: the cursor gives an empty page.
    again, _ = pull_all(**utrecht, cursor=cursor)
    assert again == []


def auditor(gateway):
    certs = os.path.join(gateway["dir"], "certs")
    return dict(gateway=gateway["url"], cert=os.path.join(certs, "auditor.pem"), key=os.path.join(certs, "auditor.key"),
                ca=os.path.join(certs, "ca.pem"))


def test_the_audit_chain_verifies_from_the_api_alone(gateway):
    assert push_as_duo(gateway, sealed(gateway, "audited", 20, 21)).status == 201
    audit_key = open(os.path.join(gateway["dir"], "keys", "audit-signing.pub")).read()
    verdict = verify_audit(**auditor(gateway), audit_key=audit_key)
    assert verdict.intact, verdict.problem
    assert verdict.entries >= 3 and verdict.checkpoints >= 1


def test_a_changed_entry_or_checkpoint_or_another_key_is_found(gateway):
    a = auditor(gateway)
    context = ssl.create_default_context(cafile=a["ca"])
    context.load_cert_chain(a["cert"], a["key"])
    connection = HTTPSConnection("127.0.0.1", int(gateway["url"].rsplit(":", 1)[1]), context=context)
    connection.request("GET", "/v1/audit/checkpoints")
    published = json.loads(connection.getresponse().read())
    connection.request("GET", "/v1/audit/entries?limit=1000")
    entries = json.loads(connection.getresponse().read())["entries"]
    connection.close()
    key = base64.b64decode(published["auditKey"])
    assert verify(entries, published["checkpoints"], key).intact
    assert all(value is not None for entry in entries for value in entry.values()), "absent members are left out"
    assert all(len(entry["time"]) == 24 and entry["time"].endswith("Z") for entry in entries)

    changed = copy.deepcopy(entries)
    changed[0]["object"] += "x"
    assert "entry 1" in verify(changed, published["checkpoints"], key).problem

    retimed = copy.deepcopy(entries)
    retimed[-1]["time"] = retimed[-1]["time"].replace("Z", "").rsplit(".", 1)[0] + ".999Z"
    if retimed[-1]["time"] != entries[-1]["time"]:
        assert not verify(retimed, published["checkpoints"], key).intact

    dropped = entries[:1] + entries[2:]
    assert "entry 2 is missing" in verify(dropped, published["checkpoints"], key).problem

    forged = copy.deepcopy(published["checkpoints"])
    forged[0]["hash"] = "00" * 32
    assert "signature" in verify(entries, forged, key).problem

    stranger = bytes(SigningKey.generate().verify_key)
    assert not verify(entries, published["checkpoints"], stranger).intact


def test_a_gateway_set_up_for_the_test_vectors_answers_each_as_the_vectors_say(vectors_gateway):
    vectors = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "test-vectors",
                                          "envelope-v1.json")))

    def push_bytes(name, data):
        path = os.path.join(vectors_gateway["tmp"], name)
        with open(path, "wb") as f:
            f.write(data)
        return push_as_duo(vectors_gateway, path)

    # The variants first: each is refused with its code and commits nothing, so the envelope's own
    # batch id is still free.
    for k, variant in enumerate(vectors["variants"]):
        answer = push_bytes(f"variant-{k}.vgb", base64.b64decode(variant["envelope"]))
        assert answer.error == variant["expectedError"], variant["name"]
    answer = push_bytes("vector.vgb", base64.b64decode(vectors["envelope"]))
    assert answer.status == 201, answer.body
    receipt = verify_receipt(answer.body, bytes.fromhex(vectors["keys"]["gatewaySigningPublicKey"]))
    expected = json.loads(vectors["receipt"]["body"])
    for name in ("accepted", "rejected", "rejections", "batchId", "dataset", "envelopeHash", "gatewayKeyId", "source"):
        assert receipt[name] == expected[name], name
    assert push_bytes("vector-again.vgb", base64.b64decode(vectors["envelope"])).status == 200
