"""Vangnet for Python: seal, open and push batches (docs/envelope.md), pull a region's records (docs/api.md).

An independent implementation of the wire format on PyNaCl (libsodium) and the standard library,
for agencies that integrate from Python, and as a second client that proves the specification.
"""

from .audit import Verdict, verify_audit
from .envelope import (
    EnvelopeError,
    Header,
    key_id,
    open_envelope,
    seal,
    seal_file,
)
from .pull import Page, PullError, Puller, apply, pull_all
from .push import PushResult, push
from .receipt import ReceiptError, verify_receipt

__all__ = [
    "EnvelopeError",
    "Header",
    "Page",
    "PullError",
    "Puller",
    "PushResult",
    "ReceiptError",
    "apply",
    "key_id",
    "open_envelope",
    "pull_all",
    "push",
    "seal",
    "seal_file",
    "Verdict",
    "verify_audit",
    "verify_receipt",
]
