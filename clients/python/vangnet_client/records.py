"""Records checked against a dataset's published JSON Schema (docs/schemas/, or
GET /v1/datasets/{id}/schema) before a batch is sealed: the schema itself, with the `jsonschema`
library (draft 2020-12), and the rules it lists under `x-vangnet` that JSON Schema cannot state.

A line this check accepts, the gateway accepts (docs/test-vectors/records-v1.json holds both to
the same answers). It does not say which of the gateway's codes a refusal gets: the receipt does.
"""

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Optional

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError


def _is_integer(checker, instance) -> bool:
    # Numbers are read as Decimal, so that 0.01 steps are exact; a whole Decimal (10.0, 1E+1) is an
    # integer, as JSON Schema says.
    if isinstance(instance, bool):
        return False
    if isinstance(instance, Decimal):
        return instance.is_finite() and instance == instance.to_integral_value()
    return isinstance(instance, int)


_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


class _DuplicateKey(ValueError):
    pass


def _object(pairs):
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise _DuplicateKey("a key is written twice")
    return dict(pairs)


def _elfproef(bsn: str) -> bool:
    if len(bsn) != 9 or not bsn.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(bsn[:8], range(9, 1, -1))) - int(bsn[8])
    return total % 11 == 0 and bsn != "000000000"


def day_in_netherlands(created_at: str) -> date:
    """The calendar day in the Netherlands (CET, CEST from the last Sunday of March to the last
    Sunday of October, switching at 01:00 UTC) of an RFC 3339 time: the day a batch was made."""
    instant = datetime.fromisoformat(created_at.replace("Z", "+00:00")).astimezone(timezone.utc)

    def last_sunday(month: int) -> datetime:
        d = datetime(instant.year, month, 31, 1, tzinfo=timezone.utc)
        return d - timedelta(days=(d.weekday() + 1) % 7)

    summer = last_sunday(3) <= instant < last_sunday(10)
    return (instant + timedelta(hours=2 if summer else 1)).date()


class RecordCheck:
    """Checks the lines of one dataset, for a batch made at `created_at` (RFC 3339)."""

    def __init__(self, schema: dict, created_at: str, institutions: Optional[list] = None):
        """`institutions`: for a dataset with `x-vangnet.institutionField` (the mbo report), the
        sending institution's BRIN numbers as the policy binds them; a record naming another is
        refused by the gateway as `institution_mismatch`. None: not checked."""
        self.schema = schema
        self.rules = schema["x-vangnet"]
        self.institutions = set(institutions) if institutions is not None else None
        self.created_on = day_in_netherlands(created_at).isoformat()
        self.record = _Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        withdrawal = dict(schema["$defs"]["withdrawal"])
        withdrawal["$schema"] = schema["$schema"]
        self.withdrawal = _Validator(withdrawal, format_checker=Draft202012Validator.FORMAT_CHECKER)

    @classmethod
    def from_file(cls, path: str, created_at: str, institutions: Optional[list] = None) -> "RecordCheck":
        with open(path) as f:
            return cls(json.load(f, parse_float=Decimal), created_at, institutions)

    def problem(self, line: str, mode: str = "changes") -> Optional[str]:
        """None if the gateway accepts the line, otherwise what is wrong with it (in words that never
        repeat a value). `mode`: `full` (a complete picture) or `changes` (withdrawals allowed)."""
        if self.rules.get("noEscapes") and "\\" in line:
            return "a string is escaped (no field admits a backslash)"
        try:
            record = json.loads(line, parse_float=Decimal, object_pairs_hook=_object)
        except _DuplicateKey:
            return "a key is written twice"
        except ValueError:
            return "the line is not JSON"
        if not isinstance(record, dict):
            return "the line is not a JSON object"
        withdrawn = "withdrawn" in record
        if withdrawn and mode == "full":
            return "a withdrawal in a complete picture"
        validator = self.withdrawal if withdrawn else self.record
        error: Optional[ValidationError] = next(iter(validator.iter_errors(record)), None)
        if error is not None:
            place = "/".join(str(p) for p in error.absolute_path) or "the record"
            return f"{place} does not meet the schema ({error.validator})"
        for name in self.rules.get("elfproef", []):
            if not _elfproef(record[name]):
                return f"{name} does not pass the elfproef"
        field = self.rules.get("institutionField")
        if field is not None and self.institutions is not None and record.get(field) not in self.institutions:
            return f"{field} is not one of the sending institution's BRIN numbers"
        if withdrawn:
            return None
        for rule in self.rules.get("dateRules", []):
            value = record.get(rule["field"])
            if value is None:
                continue
            if "notBefore" in rule:
                earlier = record.get(rule["notBefore"])
                if earlier is not None and value < earlier:
                    return f"{rule['field']} is before {rule['notBefore']}"
            elif rule.get("notAfter") == "createdAt" and value > self.created_on:
                return f"{rule['field']} is after the day the batch was made"
        return None
