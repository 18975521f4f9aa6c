"""Pushing an envelope over mutual TLS (docs/api.md)."""

import json
import os
import ssl
import time
from dataclasses import dataclass
from http.client import HTTPSConnection
from urllib.parse import urlsplit


@dataclass
class PushResult:
    status: int
    body: str

    @property
    def ok(self) -> bool:
        return self.status in (200, 201)

    @property
    def error(self) -> str | None:
        """The gateway's error code for a refusal."""
        if self.ok:
            return None
        try:
            return json.loads(self.body)["error"]
        except (ValueError, KeyError):
            return f"http_{self.status}"


def push(
    envelope_path: str,
    *,
    gateway: str,
    cert: str,
    key: str,
    ca: str,
    retries: int = 5,
    backoff: float = 1.0,
) -> PushResult:
    """Streams an envelope file to POST /v1/batches with TLS 1.3 and a client certificate.

    Network errors and 5xx answers are retried with exponential backoff; that is safe because a
    batch id commits once and a retry of a committed batch returns its first receipt.
    """
    context = ssl.create_default_context(cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(cert, key)
    url = urlsplit(gateway)
    size = os.path.getsize(envelope_path)
    for attempt in range(retries + 1):
        try:
            connection = HTTPSConnection(url.hostname, url.port or 443, context=context, timeout=300)
            with open(envelope_path, "rb") as body:
                connection.request("POST", "/v1/batches", body=body, headers={
                    "Content-Type": "application/vnd.vangnet.envelope.v1", "Content-Length": str(size)})
                response = connection.getresponse()
                result = PushResult(response.status, response.read().decode())
            connection.close()
            if result.status < 500 or attempt == retries:
                return result
        except (OSError, ssl.SSLError):
            if attempt == retries:
                raise
        time.sleep(backoff * 2 ** attempt)
    raise AssertionError("unreachable")
