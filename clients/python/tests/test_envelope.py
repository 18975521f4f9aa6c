"""The Python implementation of envelope v1 against the published test vectors and itself."""

import base64
import io
import json
import os

import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey, VerifyKey

from vangnet_client import EnvelopeError, key_id, open_envelope, seal, verify_receipt

VECTORS = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "test-vectors", "envelope-v1.json")))
KEYS = VECTORS["keys"]
GATEWAY = PrivateKey(bytes.fromhex(KEYS["gatewayBoxSecretKey"]))
SOURCE = VerifyKey(bytes.fromhex(KEYS["sourceSigningPublicKey"]))
REGISTERED = {KEYS["sourceSigningKeyId"]: SOURCE}


def test_vector_envelope_opens_to_its_payload():
    header, payload, envelope_hash = open_envelope(base64.b64decode(VECTORS["envelope"]), gateway_key=GATEWAY, signing_keys=REGISTERED)
    assert payload.decode() == VECTORS["payload"]
    assert header.record_count == 3
    assert envelope_hash == VECTORS["expected"]["envelopeHashBLAKE2b256"]
    assert key_id(SOURCE.encode()) == KEYS["sourceSigningKeyId"]


@pytest.mark.parametrize("variant", VECTORS["variants"], ids=lambda v: v["name"])
def test_vector_variant_is_refused_with_its_code(variant):
    with pytest.raises(EnvelopeError) as refused:
        open_envelope(base64.b64decode(variant["envelope"]), gateway_key=GATEWAY, signing_keys=REGISTERED)
    assert refused.value.code == variant["expectedError"]


def test_vector_receipt_verifies_and_an_altered_one_does_not():
    public = bytes.fromhex(KEYS["gatewaySigningPublicKey"])
    receipt = json.dumps({"body": VECTORS["receipt"]["body"], "signature": VECTORS["receipt"]["signature"]})
    assert verify_receipt(receipt, public)["accepted"] == 3
    altered = json.dumps({"body": VECTORS["receipt"]["body"].replace('"accepted":3', '"accepted":4'), "signature": VECTORS["receipt"]["signature"]})
    with pytest.raises(Exception):
        verify_receipt(altered, public)


@pytest.mark.parametrize("size", [0, 1, 199, 200, 201, 5000])
def test_round_trip_at_chunk_boundaries(size):
    signer, gateway = SigningKey.generate(), PrivateKey.generate()
    payload = bytes(i % 251 for i in range(size))
    out = io.BytesIO()
    seal(io.BytesIO(payload), out, source="00000099000000000101", dataset="duo.onderwijsdeelname", signing_key=signer,
         gateway_public_key=gateway.public_key.encode(), record_count=0, chunk_size=200)
    _, opened, _ = open_envelope(out.getvalue(), gateway_key=gateway, signing_keys={key_id(signer.verify_key.encode()): signer.verify_key})
    assert opened == payload


def test_envelope_signed_by_another_key_is_refused():
    signer, stranger, gateway = SigningKey.generate(), SigningKey.generate(), PrivateKey.generate()
    out = io.BytesIO()
    seal(io.BytesIO(b"x\n"), out, source="00000099000000000101", dataset="duo.onderwijsdeelname", signing_key=stranger,
         gateway_public_key=gateway.public_key.encode(), record_count=1)
    with pytest.raises(EnvelopeError) as refused:
        open_envelope(out.getvalue(), gateway_key=gateway, signing_keys={key_id(signer.verify_key.encode()): signer.verify_key})
    assert refused.value.code == "unknown_signing_key"


def test_blank_lines_are_no_records_as_the_gateway_counts():
    from vangnet_client.envelope import count_records
    payload = b'{"a":1}\n\n  \t\r\n{"b":2}\r\n{"c":3}'
    assert count_records(io.BytesIO(payload)) == 3


def test_the_seal_command_names_the_version_of_the_schema_it_checked_against(tmp_path):
    """A batch names the dataset version its records follow: `--schema-version`, or the version of
    the published schema given with `--schema`."""
    import subprocess
    import sys

    signer, gateway = SigningKey.generate(), PrivateKey.generate()
    (tmp_path / "seed").write_text(base64.b64encode(bytes(signer)).decode())
    (tmp_path / "gateway.pub").write_text(base64.b64encode(gateway.public_key.encode()).decode())
    schemas = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "schemas")
    schema = json.load(open(os.path.join(schemas, "duo.onderwijsdeelname.v1.schema.json")))
    schema["x-vangnet"]["version"] = 2
    (tmp_path / "v2.schema.json").write_text(json.dumps(schema))
    (tmp_path / "records.ndjson").write_text(
        '{"bsn":"123456782","geboortedatum":"2008-03-01","gemeentecode":"GM0344","brin":"25LP",'
        '"onderwijssoort":"vo","inschrijvingsdatum":"2020-08-15","startkwalificatie":false,"vsv":true}\n')
    client = os.path.join(os.path.dirname(__file__), "..")
    registered = {key_id(signer.verify_key.encode()): signer.verify_key}
    for extra, version in [([], 1), (["--schema", str(tmp_path / "v2.schema.json")], 2), (["--schema-version", "3"], 3)]:
        subprocess.run(
            [sys.executable, "-m", "vangnet_client", "seal", "--input", str(tmp_path / "records.ndjson"),
             "--output", str(tmp_path / "batch.vgb"), "--dataset", "duo.onderwijsdeelname",
             "--source", "00000099000000000101", "--signing-key", str(tmp_path / "seed"),
             "--gateway-key", str(tmp_path / "gateway.pub"), *extra],
            cwd=client, check=True, capture_output=True)
        header, _, _ = open_envelope((tmp_path / "batch.vgb").read_bytes(), gateway_key=gateway, signing_keys=registered)
        assert header.schema_version == version
