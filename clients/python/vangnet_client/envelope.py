"""The batch envelope, format version 1 (docs/envelope.md), on PyNaCl."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import BinaryIO, Callable, Iterator

from nacl import bindings as sodium
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

MAGIC = b"VNGTENV1"
SIGNATURE_DOMAIN = b"vangnet/envelope/v1/signature\x00"
MAX_HEADER_BYTES = 64 * 1024
MAX_CHUNK_SIZE = 1024 * 1024
DEFAULT_CHUNK_SIZE = 64 * 1024
ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


class EnvelopeError(Exception):
    """An envelope is refused; `code` is the gateway's error code for the same failure."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


def key_id(public_key: bytes) -> str:
    """Hex of the first 8 bytes of BLAKE2b-256 over a 32-byte public key."""
    return hashlib.blake2b(public_key, digest_size=32).digest()[:8].hex()


@dataclass
class Header:
    batch_id: str
    source: str
    dataset: str
    schema_version: int
    created_at: str
    record_count: int
    signing_key_id: str
    recipient_key_id: str
    sealed_payload_key: str
    stream_header: str
    chunk_size: int
    version: int = 1
    # "full" (the complete current picture of the dataset) or "changes"; None leaves it out (= changes).
    mode: str | None = None

    def to_json(self) -> bytes:
        members = {
                "version": self.version,
                "batchId": self.batch_id,
                "source": self.source,
                "dataset": self.dataset,
                "schemaVersion": self.schema_version,
                "createdAt": self.created_at,
                "recordCount": self.record_count,
                "signingKeyId": self.signing_key_id,
                "recipientKeyId": self.recipient_key_id,
                "sealedPayloadKey": self.sealed_payload_key,
                "streamHeader": self.stream_header,
                "chunkSize": self.chunk_size,
            }
        if self.mode is not None:
            members["mode"] = self.mode
        return json.dumps(members, separators=(",", ":")).encode()

    @staticmethod
    def from_json(data: bytes) -> "Header":
        try:
            h = json.loads(data)
            return Header(
                batch_id=h["batchId"], source=h["source"], dataset=h["dataset"], schema_version=h["schemaVersion"],
                created_at=h["createdAt"], record_count=h["recordCount"], signing_key_id=h["signingKeyId"],
                recipient_key_id=h["recipientKeyId"], sealed_payload_key=h["sealedPayloadKey"],
                stream_header=h["streamHeader"], chunk_size=h["chunkSize"], version=h["version"], mode=h.get("mode"),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise EnvelopeError("envelope_malformed", "the header is not valid envelope JSON") from error


def count_records(stream: BinaryIO) -> int:
    """Lines that are not blank (empty, or only spaces, tabs and CRs): what the gateway counts as records."""
    return sum(1 for line in stream if line.rstrip(b"\n").strip(b" \t\r"))


def _chunks(stream: BinaryIO, size: int) -> Iterator[bytes]:
    chunk = stream.read(size)
    while True:
        following = stream.read(size) if len(chunk) == size else b""
        yield chunk
        if not following:
            return
        chunk = following


def seal(
    payload: BinaryIO,
    out: BinaryIO,
    *,
    source: str,
    dataset: str,
    signing_key: SigningKey,
    gateway_public_key: bytes,
    record_count: int,
    batch_id: str | None = None,
    schema_version: int = 1,
    created_at: datetime | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    mode: str | None = None,
) -> Header:
    """Seals an NDJSON payload read from `payload` into `out`, streaming. Returns the header.

    `mode`: "full" when the payload is the source's complete current picture of the dataset (its
    records missing from it are withdrawn), "changes" for records added or changed and withdrawals
    (`{"bsn": ..., <key fields>, "withdrawn": true}`); None leaves it out of the header (= changes).
    """
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError("chunk_size must be 1..1048576")
    if mode not in (None, "full", "changes"):
        raise ValueError("mode must be full or changes")
    payload_key = sodium.crypto_secretstream_xchacha20poly1305_keygen()
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    stream_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, payload_key)
    created = (created_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    header = Header(
        batch_id=batch_id or str(uuid.uuid4()),
        source=source,
        dataset=dataset,
        schema_version=schema_version,
        created_at=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        record_count=record_count,
        signing_key_id=key_id(signing_key.verify_key.encode()),
        recipient_key_id=key_id(gateway_public_key),
        sealed_payload_key=base64.b64encode(SealedBox(PublicKey(gateway_public_key)).encrypt(payload_key)).decode(),
        stream_header=base64.b64encode(stream_header).decode(),
        chunk_size=chunk_size,
        mode=mode,
    )
    digest = hashlib.blake2b(digest_size=64)

    def emit(data: bytes) -> None:
        digest.update(data)
        out.write(data)

    header_bytes = header.to_json()
    emit(MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes)
    chunks = list(_peek_last(_chunks(payload, chunk_size)))
    for chunk, is_last in chunks:
        tag = TAG_FINAL if is_last else TAG_MESSAGE
        ciphertext = sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, None, tag)
        emit(struct.pack(">I", len(ciphertext)) + ciphertext)
    out.write(signing_key.sign(SIGNATURE_DOMAIN + digest.digest()).signature)
    return header


def _peek_last(iterator: Iterator[bytes]) -> Iterator[tuple[bytes, bool]]:
    previous = next(iterator)
    for item in iterator:
        yield previous, False
        previous = item
    yield previous, True


def seal_file(input_path: str, output_path: str, **kwargs) -> Header:
    """Seals the NDJSON file at `input_path` into `output_path`; counts the records first."""
    with open(input_path, "rb") as f:
        record_count = count_records(f)
    with open(input_path, "rb") as payload, open(output_path, "wb") as out:
        return seal(payload, out, record_count=record_count, **kwargs)


def open_envelope(
    envelope: bytes,
    *,
    gateway_key: PrivateKey,
    signing_keys: dict[str, VerifyKey],
    on_payload: Callable[[bytes], None] | None = None,
) -> tuple[Header, bytes, str]:
    """Reads an envelope as the gateway does. Returns (header, payload, envelope hash hex).

    `signing_keys` maps key ids to the registered keys. Raises EnvelopeError with the gateway's code.
    """
    if not envelope:
        raise EnvelopeError("envelope_malformed", "the body is empty, not an envelope")
    if envelope[:8] != MAGIC[:len(envelope[:8])]:
        raise EnvelopeError("envelope_malformed", "not a Vangnet envelope (magic bytes differ)")
    if len(envelope) < 12:
        raise EnvelopeError("envelope_truncated", "the envelope ends inside its header")
    (length,) = struct.unpack(">I", envelope[8:12])
    if not 0 < length <= MAX_HEADER_BYTES:
        raise EnvelopeError("envelope_malformed", f"header length {length} is out of bounds")
    if len(envelope) < 12 + length:
        raise EnvelopeError("envelope_truncated", "the envelope ends inside its header")
    header = Header.from_json(envelope[12:12 + length])
    if header.version != 1:
        raise EnvelopeError("envelope_unsupported_version", f"envelope version {header.version} is not supported")
    if not 0 < header.chunk_size <= MAX_CHUNK_SIZE:
        raise EnvelopeError("envelope_malformed", "chunk size out of bounds")
    if header.recipient_key_id != key_id(gateway_key.public_key.encode()):
        raise EnvelopeError("envelope_wrong_recipient", "the payload key is sealed to another gateway key")
    verify_key = signing_keys.get(header.signing_key_id)
    if verify_key is None:
        raise EnvelopeError("unknown_signing_key", f"signing key {header.signing_key_id} is not registered")
    try:
        payload_key = SealedBox(gateway_key).decrypt(base64.b64decode(header.sealed_payload_key))
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, base64.b64decode(header.stream_header), payload_key)
    except Exception as error:
        raise EnvelopeError("envelope_payload_key_unreadable", "the payload key does not open") from error
    # The last 64 bytes are the signature; the frames are what lies between the header and them.
    offset, end, plaintext, finished, chunks = 12 + length, len(envelope) - 64, io.BytesIO(), False, 0
    while not finished:
        if offset == end:
            raise EnvelopeError("envelope_truncated", "the payload ends without its final chunk")
        if offset + 4 > end:
            raise EnvelopeError("envelope_truncated", "the envelope ends before its signature is complete")
        (frame,) = struct.unpack(">I", envelope[offset:offset + 4])
        if not ABYTES <= frame <= header.chunk_size + ABYTES:
            raise EnvelopeError("envelope_malformed", f"frame length {frame} is out of bounds")
        if offset + 4 + frame > end:
            raise EnvelopeError("envelope_truncated", "the envelope ends before its signature is complete")
        try:
            chunk, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, envelope[offset + 4:offset + 4 + frame], None)
        except Exception as error:
            raise EnvelopeError("envelope_decryption_failed", "payload chunk failed authentication") from error
        offset += 4 + frame
        chunks += 1
        finished = tag == TAG_FINAL
        if tag not in (TAG_MESSAGE, TAG_FINAL):
            raise EnvelopeError("envelope_chunk_invalid", f"chunk {chunks} is not tagged message or final")
        if not finished and len(chunk) != header.chunk_size:
            raise EnvelopeError("envelope_chunk_invalid", f"chunk {chunks} has {len(chunk)} bytes and is not the last")
        plaintext.write(chunk)
        if on_payload:
            on_payload(chunk)
    if offset < end:
        raise EnvelopeError("envelope_trailing_data", "bytes follow the signature")
    digest = hashlib.blake2b(envelope[:offset], digest_size=64).digest()
    try:
        verify_key.verify(SIGNATURE_DOMAIN + digest, envelope[offset:])
    except Exception as error:
        raise EnvelopeError("envelope_bad_signature", "the signature does not verify") from error
    return header, plaintext.getvalue(), hashlib.blake2b(envelope, digest_size=32).hexdigest()
