"""The mobile contract: files generated from the server that the phone app codes against.

``clients/mobile-schema/`` holds ``openapi.json``, one standalone JSON Schema per wire
type under ``json-schema/`` (plus ``json-schema/index.json``) and ``VERSION``. CI runs
:func:`check_contract`; developers run ``fieldsales contract write`` (or
``python -m server.contract write``) after changing a route or a wire type.

Every file is byte-for-byte reproducible: sorted keys, 2-space indent, a trailing
newline, and no timestamps or paths of the machine that built it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from server.config import load_settings

#: Where the contract lives, relative to the repository root.
CONTRACT_DIR = Path("clients") / "mobile-schema"
SCHEMA_DIR = "json-schema"
INDEX = f"{SCHEMA_DIR}/index.json"
SCHEMA_BASE_URI = "https://fieldsales.dev/schemas/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
COMPONENT_REF = "#/components/schemas/"
DEFS_REF = "#/$defs/"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")


def dump(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, 2-space indent, UTF-8, trailing newline."""
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, built with throwaway settings (nothing is written)."""
    from server.app import create_app  # imported late: the app pulls in every feature

    with tempfile.TemporaryDirectory(prefix="fieldsales-contract-") as tmp:
        settings = load_settings(database_url="sqlite:///:memory:", secret_key="contract", data_dir=tmp)
        document = create_app(settings).openapi_schema.to_schema()
    return json.loads(json.dumps(document))  # plain JSON values only (no tuples, no enums)


def _component_name(ref: str) -> str | None:
    """``#/components/schemas/X`` -> ``X`` (JSON-pointer and URL escapes undone)."""
    if not ref.startswith(COMPONENT_REF):
        return None
    return unquote(ref[len(COMPONENT_REF):]).replace("~1", "/").replace("~0", "~")


def _refs(node: Any) -> Iterator[str]:
    """Names of the components a schema refers to, anywhere inside it."""
    if isinstance(node, dict):
        name = _component_name(node["$ref"]) if isinstance(node.get("$ref"), str) else None
        if name is not None:
            yield name
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _rewrite(node: Any) -> Any:
    """A copy with ``#/components/schemas/X`` refs pointing at ``#/$defs/X``."""
    if isinstance(node, dict):
        out = {key: _rewrite(value) for key, value in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(COMPONENT_REF):
            out["$ref"] = DEFS_REF + ref[len(COMPONENT_REF):]
        return out
    if isinstance(node, list):
        return [_rewrite(value) for value in node]
    return node


def _closure(name: str, schemas: dict[str, Any]) -> list[str]:
    """Every component ``name`` needs, transitively (itself only when recursive)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        for ref in _refs(schemas[todo.pop()]):
            if ref not in schemas:
                raise ValueError(f"{name}: reference to unknown component schema {ref!r}")
            if ref not in seen:
                seen.add(ref)
                todo.append(ref)
    return sorted(seen)


def json_schema(name: str, schemas: dict[str, Any]) -> dict[str, Any]:
    """Component ``name`` as a self-contained JSON Schema (draft 2020-12) document."""
    document = {**_rewrite(schemas[name]), "$schema": DIALECT, "$id": f"{SCHEMA_BASE_URI}{name}.json"}
    defs = {ref: _rewrite(schemas[ref]) for ref in _closure(name, schemas)}
    if defs:
        document["$defs"] = {**document.get("$defs", {}), **defs}
    return document


def build_contract() -> dict[str, bytes]:
    """File name (relative, ``/``-separated) -> exact bytes of every generated file."""
    document = openapi_document()
    version = str(document.get("info", {}).get("version", ""))
    if not _SEMVER.match(version):
        raise ValueError(f"the API version {version!r} (info.version) is not semver")
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    files = {"openapi.json": dump(document), "VERSION": f"{version}\n".encode()}
    index = []
    for name in sorted(schemas):
        if not _SAFE_NAME.match(name):
            raise ValueError(f"component schema name {name!r} is not usable as a file name")
        schema = json_schema(name, schemas)
        files[f"{SCHEMA_DIR}/{name}.json"] = dump(schema)
        index.append({"name": name, "title": schema.get("title", name), "file": f"{name}.json",
                      "$id": schema["$id"]})
    files[INDEX] = dump({"$comment": "Generated by server.contract; do not edit.",
                         "dialect": DIALECT, "schemas": index})
    return files


def _stale(out_dir: Path, files: dict[str, bytes]) -> list[str]:
    """Generated-looking files in ``json-schema/`` that the generator no longer makes."""
    folder = out_dir / SCHEMA_DIR
    if not folder.is_dir():
        return []
    present = (f"{SCHEMA_DIR}/{p.name}" for p in folder.glob("*.json") if p.is_file())
    return sorted(name for name in present if name not in files)


def _differs(path: Path, data: bytes) -> bool:
    return not path.is_file() or path.read_bytes() != data


def write_contract(out_dir: Path) -> list[str]:
    """Bring ``out_dir`` up to date; return the names written or removed."""
    out_dir = Path(out_dir)
    files = build_contract()
    changed = []
    for name, data in files.items():
        path = out_dir / name
        if _differs(path, data):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            changed.append(name)
    for name in _stale(out_dir, files):
        (out_dir / name).unlink()
        changed.append(name)
    return sorted(changed)


def check_contract(out_dir: Path) -> list[str]:
    """Names of files missing, different or extra in ``out_dir``; empty when current."""
    out_dir = Path(out_dir)
    files = build_contract()
    wrong = [name for name, data in files.items() if _differs(out_dir / name, data)]
    return sorted(wrong + _stale(out_dir, files))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.contract",
                                     description="Write or check the mobile contract.")
    parser.add_argument("command", choices=["write", "check"])
    parser.add_argument("directory", nargs="?", type=Path, default=CONTRACT_DIR,
                        help=f"contract folder (default: {CONTRACT_DIR.as_posix()})")
    args = parser.parse_args(argv)
    if args.command == "write":
        changed = write_contract(args.directory)
        for name in changed:
            print(f"updated {args.directory.as_posix()}/{name}")
        print(f"mobile contract: {len(changed)} file(s) changed")
        return 0
    stale = check_contract(args.directory)
    if stale:
        print(f"mobile contract in {args.directory.as_posix()} is out of date:", file=sys.stderr)
        for name in stale:
            print(f"  {name}", file=sys.stderr)
        print("run `fieldsales contract write` and commit the result", file=sys.stderr)
        return 1
    print("mobile contract is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
