"""Writes docs/test-vectors/records-v1.json: records of each dataset with what the gateway answers.

The expectations here are the contract, written by hand: the gateway's validator (Swift,
RecordVectorTests) and the Python client's check against the published JSON Schemas
(tests/test_records.py) must both give them. A case the JSON Schema alone accepts but the gateway
refuses names the x-vangnet rule that refuses it (`beyondSchema`).

    python3 clients/python/make_record_vectors.py
"""

import json
import pathlib

DUO = {"bsn": "123456782", "geboortedatum": "2007-03-14", "gemeentecode": "GM0344", "brin": "25LP",
       "onderwijssoort": "mbo", "crebo": "25180", "niveau": "2", "leerweg": "BOL",
       "inschrijvingsdatum": "2024-08-20", "uitschrijvingsdatum": "2025-02-13", "diploma": False,
       "startkwalificatie": False, "vsv": True}
UWV = {"bsn": "111222333", "gemeentecode": "GM0307", "periode": "2026-10", "soort": "dienstverband",
       "sector": 45, "uren_per_week": 32.5, "loonklasse": "2000-3000", "startdatum": "2026-09-01"}
DUO_ID = "duo.onderwijsdeelname"
UWV_ID = "uwv.inkomstenverhoudingen"

cases = []


def line(base, **changes):
    record = dict(base)
    for name, value in changes.items():
        if value is ...:
            del record[name]
        else:
            record[name] = value
    return json.dumps(record, separators=(",", ":"))


def case(name, dataset, text, expect, field=None, beyond=None, mode="full", stored=None):
    c = {"name": name, "dataset": dataset, "mode": mode, "line": text, "expect": expect}
    if field:
        c["field"] = field
    if beyond:
        c["beyondSchema"] = beyond
    if stored:
        c["stored"] = stored
    cases.append(c)


# duo.onderwijsdeelname
case("a complete record", DUO_ID, line(DUO), "valid")
case("only the required fields", DUO_ID,
     line(DUO, crebo=..., niveau=..., leerweg=..., uitschrijvingsdatum=..., diploma=...), "valid")
case("an optional field null", DUO_ID, line(DUO, crebo=None, niveau=None), "valid")
case("a required field null", DUO_ID, line(DUO, vsv=None), "missing_field", "vsv")
case("a required field absent", DUO_ID, line(DUO, vsv=...), "missing_field", "vsv")
case("an unknown field", DUO_ID, line(DUO, adres="Stationsplein 1"), "unknown_field")
case("brin in lower case", DUO_ID, line(DUO, brin="25lp"), "invalid_value", "brin")
case("brin starting with a letter", DUO_ID, line(DUO, brin="A5LP"), "invalid_value", "brin")
case("brin of five characters", DUO_ID, line(DUO, brin="25LPX"), "invalid_value", "brin")
case("brin of digits only", DUO_ID, line(DUO, brin="2512"), "invalid_value", "brin")
case("crebo with a letter", DUO_ID, line(DUO, crebo="2518A"), "invalid_value", "crebo")
case("crebo of four digits", DUO_ID, line(DUO, crebo="2518"), "invalid_value", "crebo")
case("crebo as a number", DUO_ID, line(DUO, crebo=25180), "invalid_type", "crebo")
case("niveau as a number", DUO_ID, line(DUO, niveau=4), "invalid_type", "niveau")
case("niveau entree", DUO_ID, line(DUO, niveau="entree"), "valid")
case("niveau out of the list", DUO_ID, line(DUO, niveau="5"), "invalid_value", "niveau")
case("onderwijssoort in upper case", DUO_ID, line(DUO, onderwijssoort="MBO"), "invalid_value", "onderwijssoort")
case("a boolean as a string", DUO_ID, line(DUO, diploma="true"), "invalid_type", "diploma")
case("a boolean as a number", DUO_ID, line(DUO, vsv=1), "invalid_type", "vsv")
case("a BSN failing the elfproef", DUO_ID, line(DUO, bsn="123456789"), "invalid_bsn", "bsn", beyond="elfproef")
case("a BSN of eight digits", DUO_ID, line(DUO, bsn="12345678"), "invalid_bsn", "bsn")
case("a BSN as a number", DUO_ID, line(DUO, bsn=123456782), "invalid_type", "bsn")
case("a municipality not in the CBS list", DUO_ID, line(DUO, gemeentecode="GM9999"), "unknown_municipality",
     "gemeentecode")
case("a municipality code in lower case", DUO_ID, line(DUO, gemeentecode="gm0344"), "invalid_municipality_code",
     "gemeentecode")
case("a day that does not exist", DUO_ID, line(DUO, geboortedatum="2007-02-29"), "invalid_date", "geboortedatum")
case("a leap day", DUO_ID, line(DUO, geboortedatum="2008-02-29"), "valid")
case("a date without leading zeros", DUO_ID, line(DUO, geboortedatum="2007-3-14"), "invalid_date", "geboortedatum")
case("a date before 1900", DUO_ID, line(DUO, geboortedatum="1899-12-31"), "invalid_date", "geboortedatum")
case("a birth date on the day the batch was made", DUO_ID,
     line(DUO, geboortedatum="2026-11-23", inschrijvingsdatum="2026-11-23", uitschrijvingsdatum=...), "valid")
case("a birth date after the day the batch was made", DUO_ID,
     line(DUO, geboortedatum="2026-11-24", inschrijvingsdatum="2026-11-24", uitschrijvingsdatum=...),
     "date_after_creation", "geboortedatum", beyond="dateRules")
case("an exit on the day of entry", DUO_ID, line(DUO, uitschrijvingsdatum="2024-08-20"), "valid")
case("an exit before the entry", DUO_ID, line(DUO, uitschrijvingsdatum="2024-08-19"), "dates_out_of_order",
     "uitschrijvingsdatum", beyond="dateRules")
case("an entry before the birth", DUO_ID, line(DUO, inschrijvingsdatum="2006-08-20"), "dates_out_of_order",
     "inschrijvingsdatum", beyond="dateRules")
case("an escaped string", DUO_ID, line(DUO).replace('"25LP"', '"\\u0032\\u0035LP"'), "invalid_value", "brin",
     beyond="noEscapes")
case("a key written twice", DUO_ID, line(DUO)[:-1] + ',"vsv":false}', "invalid_json", beyond="noDuplicateKeys")
case("not JSON", DUO_ID, '{"bsn":"123456782",', "invalid_json")
case("an array, not an object", DUO_ID, "[1,2]", "invalid_json")
case("a nested object", DUO_ID, line(DUO, diploma={"behaald": True}), "invalid_json")
case("a withdrawal in a complete picture", DUO_ID,
     '{"bsn":"123456782","brin":"25LP","inschrijvingsdatum":"2024-08-20","withdrawn":true}',
     "withdrawal_not_allowed", "withdrawn")
case("a withdrawal", DUO_ID, '{"bsn":"123456782","brin":"25LP","inschrijvingsdatum":"2024-08-20","withdrawn":true}',
     "valid", mode="changes")
case("a withdrawal with another field", DUO_ID,
     '{"bsn":"123456782","brin":"25LP","inschrijvingsdatum":"2024-08-20","vsv":true,"withdrawn":true}',
     "withdrawal_with_fields", "vsv", mode="changes")
case("a withdrawal without a key field", DUO_ID, '{"bsn":"123456782","brin":"25LP","withdrawn":true}',
     "missing_field", "inschrijvingsdatum", mode="changes")
case("withdrawn false", DUO_ID, '{"bsn":"123456782","brin":"25LP","inschrijvingsdatum":"2024-08-20","withdrawn":false}',
     "invalid_value", "withdrawn", mode="changes")
case("a record in a batch of changes", DUO_ID, line(DUO), "valid", mode="changes")

# uwv.inkomstenverhoudingen
case("hours with a decimal", UWV_ID, line(UWV), "valid", stored=line(UWV, bsn=...))
case("hours with two decimals", UWV_ID, line(UWV, uren_per_week=32.25), "valid")
case("hours with three decimals", UWV_ID, line(UWV, uren_per_week=32.125), "invalid_value", "uren_per_week")
case("hours written with an exponent", UWV_ID, line(UWV).replace("32.5", "3.25e1"), "valid",
     stored=line(UWV, bsn=...))
case("hours with a trailing zero", UWV_ID, line(UWV).replace("32.5", "32.50"), "valid", stored=line(UWV, bsn=...))
case("whole hours written as a decimal", UWV_ID, line(UWV).replace("32.5", "32.0"), "valid",
     stored=line(UWV, bsn=..., uren_per_week=32))
case("hours at the upper bound", UWV_ID, line(UWV, uren_per_week=80), "valid")
case("hours above the upper bound", UWV_ID, line(UWV, uren_per_week=80.5), "invalid_value", "uren_per_week")
case("negative hours", UWV_ID, line(UWV, uren_per_week=-1), "invalid_value", "uren_per_week")
case("hours as a string", UWV_ID, line(UWV, uren_per_week="32"), "invalid_type", "uren_per_week")
case("an integer written with an exponent", UWV_ID, line(UWV, sector=45).replace(":45", ":4.5e1"), "valid",
     stored=line(UWV, bsn=...))
case("an integer written with a fraction of zero", UWV_ID, line(UWV).replace(":45", ":45.0"), "valid",
     stored=line(UWV, bsn=...))
case("an integer with a fraction", UWV_ID, line(UWV).replace(":45", ":45.5"), "invalid_type", "sector")
case("an integer below its range", UWV_ID, line(UWV, sector=0), "invalid_value", "sector")
case("an integer above its range", UWV_ID, line(UWV, sector=100), "invalid_value", "sector")
case("a number with a leading zero", UWV_ID, line(UWV).replace(":45", ":045"), "invalid_json")
case("a month that does not exist", UWV_ID, line(UWV, periode="2026-13"), "invalid_date", "periode")
case("an enumeration in the wrong case", UWV_ID, line(UWV, soort="ww"), "invalid_value", "soort")
case("an end on the day of the start", UWV_ID, line(UWV, einddatum="2026-09-01"), "valid")
case("an end before the start", UWV_ID, line(UWV, einddatum="2026-08-31"), "dates_out_of_order", "einddatum",
     beyond="dateRules")

# mbo.niet-toelaatbaar
MBO = {"bsn": "123456782", "geboortedatum": "2009-05-02", "gemeentecode": "GM0344", "brin": "25LP",
       "crebo": "25655", "niveau": "2", "aanmelddatum": "2026-03-28", "besluitdatum": "2026-06-15",
       "reden": "vooropleiding"}
MBO_ID = "mbo.niet-toelaatbaar"
case("an mbo report", MBO_ID, line(MBO), "valid", stored=line(MBO, bsn=...))
case("an mbo report refused for a full programme", MBO_ID, line(MBO, reden="capaciteit"), "valid")
case("an mbo report with a reason outside the list", MBO_ID, line(MBO, reden="gedrag"), "invalid_value", "reden")
case("an mbo report without a level", MBO_ID, line(MBO, niveau=...), "missing_field", "niveau")
case("an mbo report with a crebo of six digits", MBO_ID, line(MBO, crebo="256551"), "invalid_value", "crebo")
case("an application before the birth", MBO_ID, line(MBO, aanmelddatum="2009-05-01"), "dates_out_of_order",
     "aanmelddatum", beyond="dateRules")
case("a decision before the application", MBO_ID, line(MBO, besluitdatum="2026-03-27"), "dates_out_of_order",
     "besluitdatum", beyond="dateRules")
case("a decision after the day the batch was made", MBO_ID, line(MBO, besluitdatum="2026-11-24"),
     "date_after_creation", "besluitdatum", beyond="dateRules")
case("an mbo report withdrawn", MBO_ID,
     json.dumps({"bsn": "123456782", "brin": "25LP", "crebo": "25655", "aanmelddatum": "2026-03-28",
                 "withdrawn": True}, separators=(",", ":")), "valid", mode="changes")

document = {
    "description": "Records of each dataset with the gateway's answer (docs/envelope.md, Records). "
                   "expect: valid or the rejection code; field: the field the rejection names; "
                   "beyondSchema: the x-vangnet rule that refuses a record the JSON Schema alone accepts; "
                   "stored: the fields as the gateway stores and delivers them (numbers in their shortest form). "
                   "Every case is checked as if in a batch made at createdAt; mode full is a complete picture, "
                   "changes a batch of changes (withdrawals allowed).",
    "createdAt": "2026-11-23T12:00:00Z",
    "cases": cases,
}
out = pathlib.Path(__file__).resolve().parents[2] / "docs" / "test-vectors" / "records-v1.json"
out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
print(f"wrote {out}: {len(cases)} cases")
