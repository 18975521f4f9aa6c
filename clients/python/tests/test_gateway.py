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
