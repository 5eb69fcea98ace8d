"""``hullscan schema findings``: print the JSON Schema of findings.json (or check a file against it)."""

from __future__ import annotations

import argparse
import json
from typing import Any

EXAMPLES = """\
examples:
  hullscan schema findings > findings.schema.json      the schema, for other tools
  hullscan schema findings --check runs/demo/inspection/findings.json
exit status: 0 printed / valid; 1 the file does not match (one line naming the field)
"""


def register(sub: Any) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of findings.json, or check a file against it",
                       description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=["findings"], help="which schema")
    p.add_argument("--check", metavar="FILE", help="validate FILE against the schema instead of printing it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hullscan.errors import HullscanError
    from hullscan.report.schema import load_schema, validate_findings

    if args.check is None:
        print(json.dumps(load_schema(args.name), indent=1))
        return 0
    p = Path(args.check)
    try:
        doc = json.loads(p.read_text())
    except (OSError, ValueError) as err:
        raise HullscanError(f"{p}: cannot read JSON: {err}") from err
    validate_findings(doc, str(p))
    print(f"{p}: valid {args.name} document (schema {doc.get('schema_version')})")
    return 0
