"""The JSON Schema of findings.json (shipped as ``findings.schema.json`` beside this module)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from hullscan.errors import HullscanError

SCHEMAS = {"findings": "findings.schema.json"}


class SchemaError(HullscanError):
    """A document does not match its schema."""


@cache
def load_schema(name: str = "findings") -> dict[str, Any]:
    if name not in SCHEMAS:
        raise HullscanError(f"unknown schema {name!r} (expected one of {', '.join(SCHEMAS)})")
    text = resources.files("hullscan.report").joinpath(SCHEMAS[name]).read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def validate_findings(doc: dict[str, Any], source: str = "findings.json") -> None:
    """Raise :class:`SchemaError` naming the first offending field; nothing when ``doc`` is valid."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema("findings"),
                                                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        raise SchemaError(f"{source}: field {where}: {e.message} ({len(errors)} schema errors in all)")
