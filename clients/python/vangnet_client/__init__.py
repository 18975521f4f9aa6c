"""Vangnet batch envelope v1 for Python: seal, open and push batches (see docs/envelope.md).

An independent implementation of the wire format on PyNaCl (libsodium) and the standard library,
for agencies that integrate from Python, and as a second client that proves the specification.
"""

from .envelope import (
    EnvelopeError,
    Header,
    key_id,
    open_envelope,
    seal,
    seal_file,
)
from .push import PushResult, push
from .receipt import ReceiptError, verify_receipt

__all__ = [
    "EnvelopeError",
    "Header",
    "PushResult",
    "ReceiptError",
    "key_id",
    "open_envelope",
    "push",
    "seal",
    "seal_file",
    "verify_receipt",
]
