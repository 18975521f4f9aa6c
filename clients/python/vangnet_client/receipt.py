"""Receipts signed by the gateway (docs/envelope.md, "Receipt")."""

import base64
import json

from nacl.signing import VerifyKey

RECEIPT_DOMAIN = b"vangnet/receipt/v1\x00"


class ReceiptError(Exception):
    """The receipt's signature does not verify with the gateway's key."""


def verify_receipt(receipt_json: str | bytes, gateway_signing_key: bytes) -> dict:
    """Checks the signature over the exact body string and returns the body as a dict."""
    receipt = json.loads(receipt_json)
    body = receipt["body"].encode()
    try:
        VerifyKey(gateway_signing_key).verify(RECEIPT_DOMAIN + body, base64.b64decode(receipt["signature"]))
    except Exception as error:
        raise ReceiptError("the receipt signature does not verify with the gateway key") from error
    return json.loads(body)
