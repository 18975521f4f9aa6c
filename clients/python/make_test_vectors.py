"""Writes docs/test-vectors/envelope-v1.json: fixed keys, a sealed envelope and its verdicts.

The keys are derived from fixed labels, so they are the same on every run; the envelope itself
holds a random payload key and stream header, so it was made once and committed. Run again only
to change the vectors. Test-only keys: nothing trusts them.
"""

import base64
import hashlib
import io
import json
import os
import struct
from datetime import datetime, timezone

from nacl import bindings as sodium
from nacl.public import PrivateKey, SealedBox
from nacl.signing import SigningKey

from vangnet_client.envelope import MAGIC, SIGNATURE_DOMAIN, TAG_FINAL, TAG_MESSAGE, Header, key_id, seal
from vangnet_client.receipt import RECEIPT_DOMAIN


TAG_PUSH = sodium.crypto_secretstream_xchacha20poly1305_TAG_PUSH


def fixed(label: str) -> bytes:
    return hashlib.sha256(b"vangnet test vector: " + label.encode()).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


source_key = SigningKey(fixed("source signing key"))
gateway_box = PrivateKey(fixed("gateway box key"))
gateway_signing = SigningKey(fixed("gateway signing key"))
payload = (
    b'{"bsn":"123456782","geboortedatum":"2008-03-14","gemeentecode":"GM0344","brin":"25LP","onderwijssoort":"mbo","inschrijvingsdatum":"2024-08-20","startkwalificatie":false,"vsv":true}\n'
    b'{"bsn":"111222333","geboortedatum":"2009-11-02","gemeentecode":"GM0363","brin":"12AB","onderwijssoort":"pro","inschrijvingsdatum":"2023-08-21","startkwalificatie":false,"vsv":false}\n'
    b'{"bsn":"999999990","geboortedatum":"2007-01-30","gemeentecode":"GM0599","brin":"30XY","onderwijssoort":"vo","inschrijvingsdatum":"2022-08-22","startkwalificatie":true,"vsv":false}\n'
)
path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "test-vectors", "envelope-v1.json")
if os.path.exists(path):
    # The committed envelope stays: run again to add variants, not to change what clients hold.
    envelope = base64.b64decode(json.load(open(path))["envelope"])
else:
    out = io.BytesIO()
    seal(io.BytesIO(payload), out, source="00000099000000000101", dataset="duo.onderwijsdeelname",
         signing_key=source_key, gateway_public_key=gateway_box.public_key.encode(), record_count=3,
         batch_id="6f1c2b4e-8d0a-4c7e-9b3f-2a1d5e6c7b80", created_at=datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc),
         chunk_size=200, mode="full")
    envelope = out.getvalue()
header = Header.from_json(envelope[12:12 + struct.unpack(">I", envelope[8:12])[0]])


def with_chunks(chunks: list[tuple[bytes, int]]) -> bytes:
    """The vector's header and source key, the payload cut into exactly `chunks` (plaintext, tag),
    correctly encrypted and signed: only the layout is wrong."""
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    payload_key = sodium.crypto_secretstream_xchacha20poly1305_keygen()
    stream_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, payload_key)
    fields = json.loads(header.to_json())
    fields["sealedPayloadKey"] = b64(SealedBox(gateway_box.public_key).encrypt(payload_key))
    fields["streamHeader"] = b64(stream_header)
    header_bytes = json.dumps(fields, separators=(",", ":")).encode()
    body = MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes
    for chunk, tag in chunks:
        ciphertext = sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, None, tag)
        body += struct.pack(">I", len(ciphertext)) + ciphertext
    return body + source_key.sign(SIGNATURE_DOMAIN + hashlib.blake2b(body, digest_size=64).digest()).signature

(header_length,) = struct.unpack(">I", envelope[8:12])
frames_start = 12 + header_length
(first_frame,) = struct.unpack(">I", envelope[frames_start:frames_start + 4])
second = frames_start + 4 + first_frame
(second_frame,) = struct.unpack(">I", envelope[second:second + 4])


def flipped(offset: int) -> bytes:
    return envelope[:offset] + bytes([envelope[offset] ^ 0x01]) + envelope[offset + 1:]


count_at = envelope.index(b'"recordCount":3') + len(b'"recordCount":')
swapped = (envelope[:frames_start] + envelope[second:second + 4 + second_frame]
           + envelope[frames_start:second] + envelope[second + 4 + second_frame:])
variants = [
    ("ciphertext byte flipped in the second chunk", flipped(second + 10), "envelope_decryption_failed"),
    ("header recordCount changed from 3 to 4", envelope[:count_at] + b"4" + envelope[count_at + 1:], "envelope_bad_signature"),
    ("first two chunks swapped", swapped, "envelope_decryption_failed"),
    ("last byte of the signature removed", envelope[:-1], "envelope_truncated"),
    ("signature removed", envelope[:-64], "envelope_truncated"),
    ("signature byte flipped", flipped(len(envelope) - 5), "envelope_bad_signature"),
    ("one byte appended", envelope + b"\x00", "envelope_trailing_data"),
    ("magic changed", b"VNGTENV2" + envelope[8:], "envelope_malformed"),
    ("empty body", b"", "envelope_malformed"),
    ("cut inside the magic", envelope[:5], "envelope_truncated"),
    ("second chunk shorter than chunkSize and not the last",
     with_chunks([(payload[:200], TAG_MESSAGE), (payload[200:300], TAG_MESSAGE), (payload[300:], TAG_FINAL)]),
     "envelope_chunk_invalid"),
    ("second chunk tagged push",
     with_chunks([(payload[:200], TAG_MESSAGE), (payload[200:400], TAG_PUSH), (payload[400:], TAG_FINAL)]),
     "envelope_chunk_invalid"),
    ("no chunk tagged final",
     with_chunks([(payload[:200], TAG_MESSAGE), (payload[200:400], TAG_MESSAGE)]),
     "envelope_truncated"),
]
assert len(payload) > 400

receipt_body = json.dumps({"accepted": 3, "batchId": header.batch_id, "dataset": header.dataset,
                           "envelopeHash": hashlib.blake2b(envelope, digest_size=32).hexdigest(), "gatewayKeyId": key_id(gateway_signing.verify_key.encode()),
                           "receivedAt": "2026-11-23T12:00:01Z", "rejected": 0, "rejections": [], "source": header.source},
                          separators=(",", ":"), sort_keys=True)
vectors = {
    "description": "Vangnet batch envelope v1 test vectors (docs/envelope.md). Test-only keys; nothing trusts them.",
    "keys": {
        "sourceSigningSeed": fixed("source signing key").hex(),
        "sourceSigningPublicKey": source_key.verify_key.encode().hex(),
        "sourceSigningKeyId": key_id(source_key.verify_key.encode()),
        "gatewayBoxSecretKey": fixed("gateway box key").hex(),
        "gatewayBoxPublicKey": gateway_box.public_key.encode().hex(),
        "gatewayBoxKeyId": key_id(gateway_box.public_key.encode()),
        "gatewaySigningSeed": fixed("gateway signing key").hex(),
        "gatewaySigningPublicKey": gateway_signing.verify_key.encode().hex(),
    },
    "payload": payload.decode(),
    "envelope": b64(envelope),
    "expected": {
        "header": json.loads(envelope[12:12 + header_length]),
        "frames": -(-len(payload) // 200),
        "digestBLAKE2b512": hashlib.blake2b(envelope[:-64], digest_size=64).hexdigest(),
        "envelopeHashBLAKE2b256": hashlib.blake2b(envelope, digest_size=32).hexdigest(),
    },
    "variants": [{"name": name, "envelope": b64(data), "expectedError": code} for name, data, code in variants],
    "receipt": {
        "body": receipt_body,
        "signature": b64(gateway_signing.sign(RECEIPT_DOMAIN + receipt_body.encode()).signature),
    },
}
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump(vectors, f, indent=2)
    f.write("\n")
print(f"wrote {os.path.normpath(path)}")
