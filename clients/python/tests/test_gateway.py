"""The Python client against a real gateway: what it seals, the Swift gateway opens and commits."""

import base64
import os
import subprocess

from nacl.signing import SigningKey

from vangnet_client import push, seal_file, verify_receipt

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
