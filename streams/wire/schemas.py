"""`schemas/*.json` from the wire types: `python -m streams.wire.schemas --check` or `--write`.

A schema file keeps its hand-written parts (titles, descriptions, examples, constraints and
shared `$ref`s of each property); the types decide which properties exist, in which order, and
which are required. A property the types add gets msgspec's schema of its field.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import msgspec
from msgspec import UNSET

from streams.wire.topics import MESSAGES

JsonSchema = dict[str, Any]  # a schema file's JSON document (draft 2020-12)

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
NOT_ON_THE_WIRE = frozenset({"attributes"})  # a request event's other keys, not a property


def wire_fields(kind: type[msgspec.Struct]) -> list[tuple[str, bool]]:
    """(name on the wire, required) of every field, in encoding order, the tag first."""
    config = kind.__struct_config__
    fields = [(config.tag_field, True)] if config.tag_field is not None else []
    fields += [(f.encode_name, f.default is not UNSET) for f in msgspec.structs.fields(kind)
               if f.name not in NOT_ON_THE_WIRE]
    return fields


def _generated_property(kind: type[msgspec.Struct], name: str) -> Any:
    config = kind.__struct_config__
    if name == config.tag_field:
        return {"const": config.tag}
    if name == "version":
        return {"const": 1}
    (_, components) = msgspec.json.schema_components([kind], ref_template="#/$defs/{name}")
    return components[kind.__name__]["properties"][name]


def expected(name: str, current: JsonSchema) -> JsonSchema:
    """The schema file `name` as the types say it should be, hand-written parts kept."""
    kind = MESSAGES[name]
    fields = wire_fields(kind)
    properties = current.get("properties", {})
    result = dict(current)
    result["required"] = [field for field, required in fields if required]
    result["properties"] = {field: properties.get(field) or _generated_property(kind, field)
                            for field, _ in fields}
    # Keys a message must not carry (`false`) are the file's own: no field says them.
    result["properties"].update({k: v for k, v in properties.items() if v is False})
    return result


def drift(name: str, current: JsonSchema) -> list[str]:
    """What in the file disagrees with the type, one line each (empty: in step)."""
    wanted = expected(name, current)
    problems = []
    have, want = set(current.get("required", [])), set(wanted["required"])
    if have != want:
        problems.append(f"required: the type says {sorted(want)}; only in the file: "
                        f"{sorted(have - want)}, missing: {sorted(want - have)}")
    have, want = set(current.get("properties", {})), set(wanted["properties"])
    if have != want:
        problems.append(f"properties: only in the file: {sorted(have - want)}, missing: "
                        f"{sorted(want - have)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.wire.schemas", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="exit 1 when a file drifted")
    action.add_argument("--write", action="store_true", help="rewrite the files that drifted")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR)
    args = parser.parse_args(argv)
    failed = False
    for name in MESSAGES:
        path = args.dir / f"{name}.schema.json"
        current = json.loads(path.read_text(encoding="utf-8"))
        problems = drift(name, current)
        if not problems:
            continue
        if args.write:
            path.write_text(json.dumps(expected(name, current), indent=2) + "\n", encoding="utf-8")
            print(f"wrote {path.name}", file=sys.stderr)
        else:
            failed = True
            for problem in problems:
                print(f"{path.name}: {problem}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
