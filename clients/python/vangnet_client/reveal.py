"""Controlled re-identification on the contactgemeente's side (docs/api.md, "Re-identification").

    release = json.loads(answer_of_POST_release)
    for pseudonym, bsn in open_release(release, reveal_secret_key):
        ...  # the RMC officer's case file; never a log line

Each `sealed` value is a libsodium sealed box (X25519) to the region's reveal key, of the text
`vangnet-reveal-v1\\n<pseudonym>\\n<BSN>`. A value sealed for another pseudonym than the one it
is listed with is refused, as is one that does not open with the key.
"""

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox

PREFIX = b"vangnet-reveal-v1"


class RevealError(Exception):
    """A released value that does not open with the key, or was sealed for another pseudonym."""


def elfproef(bsn: str) -> bool:
    if len(bsn) != 9 or not bsn.isdigit() or bsn == "0" * 9:
        return False
    total = sum(int(d) * (9 - i) for i, d in enumerate(bsn[:8])) - int(bsn[8])
    return total % 11 == 0


def open_release(release: dict, secret_key: bytes) -> list[tuple[str, str]]:
    """Every (pseudonym, BSN) of a release, opened with the region's 32-byte X25519 secret key."""
    import base64

    box = SealedBox(PrivateKey(secret_key))
    opened = []
    for i, entry in enumerate(release.get("released", [])):
        try:
            plain = box.decrypt(base64.b64decode(entry["sealed"]))
        except (CryptoError, ValueError) as error:
            raise RevealError(f"released[{i}] does not open with this key") from error
        parts = plain.split(b"\n")
        if len(parts) != 3 or parts[0] != PREFIX:
            raise RevealError(f"released[{i}] is not a Vangnet release")
        pseudonym, bsn = parts[1].decode(), parts[2].decode()
        if pseudonym != entry["pseudonym"]:
            raise RevealError(f"released[{i}] was sealed for another pseudonym than the one it is listed with")
        if not elfproef(bsn):
            raise RevealError(f"released[{i}] holds no valid BSN")
        opened.append((pseudonym, bsn))
    return opened
