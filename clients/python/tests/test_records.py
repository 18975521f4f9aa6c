"""The published JSON Schemas and the record vectors: what the schema accepts, and what the client's
check (the schema and its x-vangnet rules) accepts, agree with the gateway's answers."""

import json
import pathlib
from decimal import Decimal

import pytest
from jsonschema import Draft202012Validator

from vangnet_client.records import RecordCheck, day_in_netherlands

DOCS = pathlib.Path(__file__).resolve().parents[3] / "docs"
CORPUS = json.loads((DOCS / "test-vectors" / "records-v1.json").read_text())


def schema(dataset: str) -> dict:
    [path] = (DOCS / "schemas").glob(f"{dataset}.v*.schema.json")
    return json.loads(path.read_text(), parse_float=Decimal)


@pytest.mark.parametrize("path", sorted((DOCS / "schemas").glob("*.schema.json")), ids=lambda p: p.name)
def test_each_schema_is_a_valid_draft_2020_12_schema(path):
    Draft202012Validator.check_schema(json.loads(path.read_text()))


@pytest.mark.parametrize("case", CORPUS["cases"], ids=lambda c: c["name"])
def test_the_schema_alone_accepts_exactly_what_the_gateway_accepts_but_the_x_vangnet_rules(case):
    check = RecordCheck(schema(case["dataset"]), CORPUS["createdAt"])
    try:
        record = json.loads(case["line"], parse_float=Decimal)
    except ValueError:
        record = None
    if record is None or (case["mode"] == "full" and isinstance(record, dict) and "withdrawn" in record):
        by_schema = False
    else:
        validator = check.withdrawal if isinstance(record, dict) and "withdrawn" in record else check.record
        by_schema = validator.is_valid(record)
    expected = case["expect"] == "valid" or "beyondSchema" in case
    assert by_schema == expected, case["name"]


@pytest.mark.parametrize("case", CORPUS["cases"], ids=lambda c: c["name"])
def test_the_clients_check_gives_the_gateways_verdict(case):
    check = RecordCheck(schema(case["dataset"]), CORPUS["createdAt"])
    problem = check.problem(case["line"], mode=case["mode"])
    assert (problem is None) == (case["expect"] == "valid"), f"{case['name']}: {problem}"


def test_the_day_a_batch_was_made_is_the_day_in_the_netherlands():
    assert day_in_netherlands("2026-11-23T12:00:00Z").isoformat() == "2026-11-23"
    assert day_in_netherlands("2026-11-23T23:30:00Z").isoformat() == "2026-11-24"  # 00:30 CET
    assert day_in_netherlands("2026-07-01T22:30:00Z").isoformat() == "2026-07-02"  # 00:30 CEST
    assert day_in_netherlands("2026-07-01T21:30:00Z").isoformat() == "2026-07-01"
    assert day_in_netherlands("2026-03-29T00:59:59Z").isoformat() == "2026-03-29"  # CET until 01:00 UTC
    assert day_in_netherlands("2026-11-24T00:30:00+01:00").isoformat() == "2026-11-24"


def test_check_names_each_line_the_gateway_would_refuse_and_seal_refuses_to_seal_them(tmp_path):
    import subprocess
    import sys

    good = CORPUS["cases"][0]["line"]
    bad = next(c["line"] for c in CORPUS["cases"] if c["name"] == "an exit before the entry")
    batch = tmp_path / "duo.ndjson"
    batch.write_text(good + "\n\n" + bad + "\n")
    [path] = (DOCS / "schemas").glob("duo.onderwijsdeelname.v*.schema.json")
    client = pathlib.Path(__file__).resolve().parents[1]
    run = subprocess.run(
        [sys.executable, "-m", "vangnet_client", "check", "--schema", str(path), "--input", str(batch),
         "--created-at", CORPUS["createdAt"]],
        cwd=client, capture_output=True, text=True)
    assert run.returncode == 1
    assert "line 3: uitschrijvingsdatum is before inschrijvingsdatum" in run.stderr
    assert "123456782" not in run.stderr + run.stdout
    batch.write_text(good + "\n")
    run = subprocess.run(
        [sys.executable, "-m", "vangnet_client", "check", "--schema", str(path), "--input", str(batch),
         "--created-at", CORPUS["createdAt"]],
        cwd=client, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
