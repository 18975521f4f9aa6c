"""An mbo institution from docs/ alone: check its reports against the published schema and its
own BRIN numbers, seal them as the institution, push them, and see them reach the applicant's region."""

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

from nacl.signing import SigningKey

from vangnet_client import push, seal_file, verify_receipt
from vangnet_client.records import RecordCheck
from test_gateway import read_b64
from test_reidentification import call

SCHEMA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "schemas", "mbo.niet-toelaatbaar.v1.schema.json")
MBO_UTRECHT = "00000099000000000401"
CLIENT = os.path.join(os.path.dirname(__file__), "..")


def test_the_check_refuses_a_report_for_another_institutions_brin():
    now = datetime.now(timezone.utc).isoformat()
    own = RecordCheck.from_file(SCHEMA, now, institutions=["91MB"])
    anyone = RecordCheck.from_file(SCHEMA, now)
    line = ('{"bsn":"123456782","geboortedatum":"2009-05-02","gemeentecode":"GM0344","brin":"92MB","crebo":"25655",'
            '"niveau":"2","aanmelddatum":"2026-03-28","besluitdatum":"2026-06-15","reden":"vooropleiding"}')
    assert own.problem(line) == "brin is not one of the sending institution's BRIN numbers"
    assert anyone.problem(line) is None, "without the institution's numbers the rule is not checked"
    assert own.problem(line.replace("92MB", "91MB")) is None
    assert own.problem(line.replace("vooropleiding", "gedrag")) is not None, "a reason outside the closed list"


def test_an_institutions_reports_reach_the_applicants_region(gateway):
    records = os.path.join(gateway["tmp"], "mbo.ndjson")
    subprocess.run([gateway["bin"], "synth", "--dataset", "mbo.niet-toelaatbaar", "--count", "6", "--seed", "41",
                    "--brin", "91MB", "--municipalities", "GM0344", "--output", records], check=True)
    checked = subprocess.run([sys.executable, "-m", "vangnet_client", "check", "--schema", SCHEMA, "--input", records,
                              "--brin", "91MB"], cwd=CLIENT, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    refused = subprocess.run([sys.executable, "-m", "vangnet_client", "check", "--schema", SCHEMA, "--input", records,
                              "--brin", "92MB,93MB"], cwd=CLIENT, capture_output=True, text=True)
    assert refused.returncode == 1 and "6 lines the gateway would refuse" in refused.stdout

    keys, certs = os.path.join(gateway["dir"], "keys"), os.path.join(gateway["dir"], "certs")
    envelope = os.path.join(gateway["tmp"], "mbo.vgb")
    seal_file(records, envelope, source=MBO_UTRECHT, dataset="mbo.niet-toelaatbaar",
              signing_key=SigningKey(read_b64(os.path.join(keys, "mbo-utrecht-signing.key"))),
              gateway_public_key=read_b64(os.path.join(keys, "gateway-box.pub")))
    result = push(envelope, gateway=gateway["url"], cert=os.path.join(certs, "mbo-utrecht.pem"),
                  key=os.path.join(certs, "mbo-utrecht.key"), ca=os.path.join(certs, "ca.pem"), retries=0)
    assert result.status == 201, result.body
    receipt = verify_receipt(result.body, read_b64(os.path.join(keys, "gateway-signing.pub")))
    assert receipt["accepted"] == 6 and receipt["rejected"] == 0

    status, body = call(gateway, "region-utrecht", "GET", "/v1/purposes/mbo-niet-toelaatbaar/records?limit=1000")
    assert status == 200, body
    reports = [json.loads(line) for line in body.splitlines() if line]
    assert len([r for r in reports if r["brin"] == "91MB"]) >= 6
    assert all("geboortedatum" not in r and "bsn" not in r for r in reports), "only the purpose's fields"
