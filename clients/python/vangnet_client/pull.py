"""Pulling a region's records over mutual TLS (docs/api.md): the current picture, then the changes.

    picture, cursor = pull_all(..., purpose="vsv-opvolging", view="current")
    # ... later, every night:
    changes, cursor = pull_all(..., purpose="vsv-opvolging", cursor=cursor)
    apply(picture, changes)      # the region's copy is now the current picture

Keep the cursor with the copy; it is opaque, and only valid for this region and purpose.
"""

import json
import ssl
from dataclasses import dataclass
from http.client import HTTPSConnection
from urllib.parse import urlencode, urlsplit


class PullError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class Page:
    lines: list[dict]
    next_cursor: str
    view: str
    complete: bool


class Puller:
    def __init__(self, *, gateway: str, cert: str, key: str, ca: str):
        context = ssl.create_default_context(cafile=ca)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(cert, key)
        url = urlsplit(gateway)
        self.connection = HTTPSConnection(url.hostname, url.port or 443, context=context, timeout=300)

    def page(self, purpose: str, *, view: str | None = None, cursor: str | None = None, limit: int = 1000) -> Page:
        query = {"limit": limit}
        if view:
            query["view"] = view
        if cursor:
            query["cursor"] = cursor
        self.connection.request("GET", f"/v1/purposes/{purpose}/records?{urlencode(query)}")
        response = self.connection.getresponse()
        body = response.read().decode()
        if response.status != 200:
            try:
                error = json.loads(body)
                raise PullError(response.status, error["error"], error.get("message", ""))
            except (ValueError, KeyError):
                raise PullError(response.status, f"http_{response.status}", body) from None
        return Page([json.loads(line) for line in body.splitlines() if line], response.getheader("Vangnet-Next-Cursor"),
                    response.getheader("Vangnet-View"), response.getheader("Vangnet-Complete") == "true")

    def close(self):
        self.connection.close()


def pull_all(*, gateway: str, cert: str, key: str, ca: str, purpose: str, view: str | None = None,
             cursor: str | None = None, limit: int = 1000) -> tuple[list[dict], str]:
    """Follows a pull to its end: a current picture to its last page, changes until a page is empty.
    Returns the lines and the cursor to continue with (always a changes cursor)."""
    puller = Puller(gateway=gateway, cert=cert, key=key, ca=ca)
    try:
        lines, first = [], True
        while True:
            page = puller.page(purpose, view=view if first else None, cursor=cursor, limit=limit)
            first = False
            lines += page.lines
            cursor = page.next_cursor
            if (not page.lines) if page.view == "changes" else page.complete:
                return lines, cursor
    finally:
        puller.close()


def apply(copy: dict, lines: list[dict]) -> dict:
    """Applies pulled lines to a copy keyed by record id: a record or upsert replaces, a withdrawal
    removes. Stored records carry no `change` member."""
    for line in lines:
        record = {k: v for k, v in line.items() if k != "change"}
        if line.get("change") == "withdraw":
            copy.pop(line["id"], None)
        else:
            copy[line["id"]] = record
    return copy
