"""Re-identification from docs/api.md alone: ask, have it approved, collect, open with the region's own key."""

import base64
import json
import os
import ssl
import subprocess
from http.client import HTTPSConnection
from urllib.parse import urlsplit

import pytest

from vangnet_client.reveal import RevealError, open_release
from conftest import serve
from test_gateway import push_as_duo, read_b64

from nacl.signing import SigningKey
from vangnet_client import seal_file


@pytest.fixture(scope="module")
def reid_gateway(vangnet_bin):
    yield from serve(vangnet_bin)


def call(gateway, who, method, path, body=None):
    certs = os.path.join(gateway["dir"], "certs")
    context = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    context.load_cert_chain(os.path.join(certs, who + ".pem"), os.path.join(certs, who + ".key"))
    url = urlsplit(gateway["url"])
    connection = HTTPSConnection(url.hostname, url.port, context=context, timeout=60)
    data = None if body is None else json.dumps(body).encode()
    connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    status, text = response.status, response.read().decode()
    connection.close()
    return status, text


def test_a_release_opens_with_the_regions_key_alone_and_names_the_people_pushed(reid_gateway):
    gateway = reid_gateway
    records = os.path.join(gateway["tmp"], "utrecht.ndjson")
    subprocess.run([gateway["bin"], "synth", "--dataset", "duo.onderwijsdeelname", "--count", "60", "--seed", "31",
                    "--municipalities", "GM0344,GM0355", "--output", records], check=True)
    keys = os.path.join(gateway["dir"], "keys")
    envelope = os.path.join(gateway["tmp"], "utrecht.vgb")
    seal_file(records, envelope, source="00000099000000000101", dataset="duo.onderwijsdeelname",
              signing_key=SigningKey(read_b64(os.path.join(keys, "duo-signing.key"))),
              gateway_public_key=read_b64(os.path.join(keys, "gateway-box.pub")))
    assert push_as_duo(gateway, envelope).status == 201

    status, body = call(gateway, "region-utrecht", "GET", "/v1/purposes/vsv-opvolging/records?limit=1000")
    assert status == 200
    pseudonyms = list(dict.fromkeys(json.loads(line)["pseudonym"] for line in body.splitlines() if line))[:3]
    assert len(pseudonyms) == 3

    status, body = call(gateway, "region-utrecht", "POST", "/v1/reidentifications",
                        {"purpose": "vsv-opvolging", "pseudonyms": pseudonyms, "reason": "rmc-contactpoging",
                         "caseReference": "RMC-2026-0100"})
    assert status == 201, body
    request = json.loads(body)
    assert request["state"] == "pending" and request["people"] == 3 and request["decidedBy"] is None

    status, body = call(gateway, "region-utrecht", "POST", f"/v1/reidentifications/{request['id']}/decision",
                        {"decision": "approve", "reason": "zelf"})
    assert (status, json.loads(body)["error"]) == (403, "self_approval")
    status, body = call(gateway, "approver-utrecht", "POST", f"/v1/reidentifications/{request['id']}/decision",
                        {"decision": "approve", "reason": "contactpoging"})
    assert status == 200 and json.loads(body)["state"] == "approved"

    status, body = call(gateway, "region-utrecht", "POST", f"/v1/reidentifications/{request['id']}/release")
    assert status == 200, body
    release = json.loads(body)
    opened = open_release(release, read_b64(os.path.join(keys, "region-utrecht-reveal.key")))
    pushed = {json.loads(line)["bsn"] for line in open(records) if line.strip()}
    assert [p for p, _ in opened] == pseudonyms
    assert all(bsn in pushed for _, bsn in opened), "each released BSN is one of the people pushed"

    # `vangnet reveal` on the region's side says the same.
    saved = os.path.join(gateway["tmp"], "release.json")
    with open(saved, "w") as f:
        json.dump(release, f)
    csv = subprocess.run([gateway["bin"], "reveal", "--key", os.path.join(keys, "region-utrecht-reveal.key"),
                          "--input", saved], check=True, capture_output=True, text=True).stdout
    assert csv.splitlines() == ["pseudonym,bsn"] + [f"{p},{b}" for p, b in opened]
    wrong_key = subprocess.run([gateway["bin"], "reveal", "--key", os.path.join(keys, "region-amsterdam-reveal.key"),
                                "--input", saved], capture_output=True, text=True)
    assert wrong_key.returncode != 0 and not any(b in wrong_key.stdout + wrong_key.stderr for _, b in opened)

    with pytest.raises(RevealError):
        open_release(release, read_b64(os.path.join(keys, "region-amsterdam-reveal.key")))
    moved = dict(release, released=[dict(release["released"][0], pseudonym=pseudonyms[1])])
    with pytest.raises(RevealError):
        open_release(moved, read_b64(os.path.join(keys, "region-utrecht-reveal.key")))

    status, body = call(gateway, "region-utrecht", "POST", f"/v1/reidentifications/{request['id']}/release")
    assert (status, json.loads(body)["error"]) == (409, "already_released")
