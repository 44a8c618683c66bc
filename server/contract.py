"""The mobile contract: files generated from the server that the phone app codes against.

``clients/mobile-schema/`` holds ``openapi.json``, one standalone JSON Schema per wire
type under ``json-schema/`` (plus ``json-schema/index.json``), ``VERSION``, and the sync
record shapes from ``server.sync.registry``: ``sync-tables.json`` and, under
``watermelon/``, the WatermelonDB ``appSchema`` and migrations (JSON and JS). CI runs
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


# ---------------------------------------------------------------- sync record shapes

WATERMELON_DIR = "watermelon"
SYNC_TABLES = "sync-tables.json"
REGENERATE = "`fieldsales contract write` (or `.venv/bin/python -m server.contract write`)"
#: WatermelonDB column type of each wire kind (``server.sync.registry.Kind``).
PHONE_TYPES: dict[str, str] = {
    "uuid": "string", "text": "string", "date": "string", "decimal": "string", "json": "string",
    "int": "number", "float": "number", "timestamp": "number",
    "bool": "boolean",
}
#: How each kind travels (see ``server.sync.wire``).
WIRE_FORMS: dict[str, str] = {
    "uuid": "UUID string",
    "text": "string",
    "int": "integer number",
    "float": "number",
    "bool": "true or false",
    "timestamp": "integer milliseconds since the Unix epoch (UTC)",
    "date": "YYYY-MM-DD string",
    "decimal": "decimal string with two decimals, e.g. \"125000.50\"",
    "json": "JSON text (a string holding JSON)",
}
WRITERS: dict[str, str] = {
    "insert": "the phone sets it when it creates the record; fixed afterwards",
    "both": "the phone may set it at creation and change it later",
    "server": "set by the server only; a phone must not send it",
}
#: What happens to a pushed column that the server also changed since the push's base version.
POLICIES: dict[str, str] = {
    "last_writer_wins": "the push is applied: the later write (by server receipt) wins",
    "server_wins": "the server's value stays: that column's change is dropped, the rest applies (status conflict)",
    "reject": "the whole mutation is refused (status conflict) and the server's record returned",
}
#: Names WatermelonDB reserves (it adds ``id``; ``_status``/``_changed`` are its sync bookkeeping).
WATERMELON_RESERVED = frozenset({"id", "_status", "_changed", "local_storage"})
#: Columns every phone record has a value for; all others may be null.
WATERMELON_REQUIRED = frozenset({"created_at", "updated_at", "version"})
#: Also refused by WatermelonDB's name check (JS object, LokiJS and SQLite internals).
_UNSAFE = frozenset({"constructor", "prototype", "rowid", "oid", "_rowid_", "sqlite_master"})
_JS_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _check_name(what: str, name: str) -> None:
    """Safe for WatermelonDB (its name check) and as a bare JS string literal."""
    if (not _JS_NAME.match(name) or name in WATERMELON_RESERVED | _UNSAFE
            or name.startswith("sqlite_stat")):
        raise ValueError(f"{what} {name!r} cannot be a WatermelonDB name")


def watermelon_column(name: str, kind: str) -> dict[str, Any]:
    """One ``tableSchema`` column in WatermelonDB's JSON form."""
    if kind not in PHONE_TYPES:
        raise ValueError(f"column {name!r}: no phone type for the kind {kind!r}")
    _check_name("column", name)
    column = {"name": name, "type": PHONE_TYPES[kind], "isOptional": name not in WATERMELON_REQUIRED,
              "isIndexed": name == "version" or name.endswith("_id")}
    if name in ("created_at", "updated_at") and column["type"] != "number":
        raise ValueError(f"{name} must be a timestamp (WatermelonDB wants a number), not {kind!r}")
    return column


def _watermelon_columns(columns: dict[str, str]) -> list[dict[str, Any]]:
    return [watermelon_column(name, kind) for name, kind in columns.items() if name != "id"]


def watermelon_schema(version: int | None = None) -> dict[str, Any]:
    """The WatermelonDB ``appSchema`` (JSON form) of the synced tables a phone at ``version`` has."""
    from server.sync.registry import SCHEMA_VERSION, tables_for

    version = SCHEMA_VERSION if version is None else version
    tables = []
    for spec in tables_for(version):
        _check_name("table", spec.name)
        tables.append({"name": spec.name, "columns": _watermelon_columns(spec.columns_for(version))})
    return {"version": version, "tables": tables}


def watermelon_migrations() -> list[dict[str, Any]]:
    """WatermelonDB migrations (JSON form) from ``MIN_SCHEMA_VERSION`` up to ``SCHEMA_VERSION``.

    A table introduced at version v is a ``create_table`` step of the migration to v;
    a later column introduced at v is an ``add_columns`` step. Every version in the
    range gets a migration (WatermelonDB wants them without gaps), possibly empty.
    """
    from server.sync.registry import MIN_SCHEMA_VERSION, SCHEMA_VERSION, TABLES

    migrations = []
    for version in range(MIN_SCHEMA_VERSION + 1, SCHEMA_VERSION + 1):
        steps: list[dict[str, Any]] = []
        for spec in TABLES:
            if spec.since == version:
                steps.append({"type": "create_table", "name": spec.name,
                              "columns": _watermelon_columns(spec.columns_for(version))})
            elif spec.since < version:
                before = spec.columns_for(version - 1)
                added = {n: k for n, k in spec.columns_for(version).items() if n not in before}
                if added:
                    steps.append({"type": "add_columns", "table": spec.name, "columns": _watermelon_columns(added)})
        migrations.append({"toVersion": version, "steps": steps})
    return migrations


def sync_tables() -> dict[str, Any]:
    """Per schema version: the tables, their columns, kinds, phone types, writers and policies.

    The same facts as ``GET /api/v1/sync/capabilities`` (plus ``phone_type``), for every
    supported schema version, readable without a server.
    """
    from server.sync.registry import MIN_SCHEMA_VERSION, SCHEMA_VERSION, tables_for

    versions = []
    for version in range(MIN_SCHEMA_VERSION, SCHEMA_VERSION + 1):
        tables = []
        for spec in tables_for(version):
            writers = spec.writers
            columns = [{"name": name, "type": kind, "phone_type": PHONE_TYPES[kind], "writer": writers[name],
                        "since": spec.column_since.get(name, spec.since), "conflict_policy": spec.policy_of(name)}
                       for name, kind in spec.columns_for(version).items()]
            tables.append({"name": spec.name, "since": spec.since, "conflict_policy": spec.policy,
                           "client_writable": spec.writes is not None, "columns": columns})
        versions.append({"schema_version": version, "tables": tables})
    return {
        "$comment": "Generated by server.contract from server/sync/registry.py; do not edit.",
        "schema_version": SCHEMA_VERSION,
        "min_schema_version": MIN_SCHEMA_VERSION,
        "kinds": {kind: {"phone_type": PHONE_TYPES[kind], "wire": WIRE_FORMS[kind]} for kind in PHONE_TYPES},
        "writers": WRITERS,
        "conflict_policies": POLICIES,
        "versions": versions,
    }


def _js_header(what: str) -> list[str]:
    return [f"// {what}",
            "// Generated by server.contract from server/sync/registry.py: do not edit.",
            f"// Regenerate with {REGENERATE}.",
            ""]


def _js_columns(columns: list[dict[str, Any]], indent: str) -> list[str]:
    lines = [f"{indent}columns: ["]
    for c in columns:
        flags = "".join(f", {flag}: true" for flag in ("isOptional", "isIndexed") if c[flag])
        lines.append(f"{indent}  {{ name: '{c['name']}', type: '{c['type']}'{flags} }},")
    return [*lines, f"{indent}],"]


def watermelon_schema_js(schema: dict[str, Any]) -> str:
    """``schema`` as the ES module a React Native app imports (default export)."""
    lines = _js_header(f"WatermelonDB appSchema of the synced tables, schema version {schema['version']}.")
    lines += ["import { appSchema, tableSchema } from '@nozbe/watermelondb'", "",
              "export default appSchema({", f"  version: {int(schema['version'])},", "  tables: ["]
    for table in schema["tables"]:
        lines += ["    tableSchema({", f"      name: '{table['name']}',",
                  *_js_columns(table["columns"], "      "), "    }),"]
    lines += ["  ],", "})"]
    return "\n".join(lines) + "\n"


def watermelon_migrations_js(migrations: list[dict[str, Any]]) -> str:
    """``migrations`` as an ES module: ``schemaMigrations`` (newest first, as WatermelonDB's docs write them)."""
    lines = _js_header("WatermelonDB schema migrations of the synced tables.")
    lines += ["import { addColumns, createTable, schemaMigrations } from '@nozbe/watermelondb/Schema/migrations'", "",
              "export default schemaMigrations({", "  migrations: ["]
    for migration in sorted(migrations, key=lambda m: -m["toVersion"]):
        lines += ["    {", f"      toVersion: {int(migration['toVersion'])},", "      steps: ["]
        for step in migration["steps"]:
            if step["type"] == "create_table":
                lines += ["        createTable({", f"          name: '{step['name']}',"]
            else:
                lines += ["        addColumns({", f"          table: '{step['table']}',"]
            lines += [*_js_columns(step["columns"], "          "), "        }),"]
        lines += ["      ],", "    },"]
    lines += ["  ],", "})"]
    return "\n".join(lines) + "\n"


def sync_files() -> dict[str, bytes]:
    """The sync record shapes: ``sync-tables.json`` and the WatermelonDB schema files."""
    schema = watermelon_schema()
    migrations = watermelon_migrations()
    return {
        SYNC_TABLES: dump(sync_tables()),
        f"{WATERMELON_DIR}/schema.json": dump(schema),
        f"{WATERMELON_DIR}/schema.js": watermelon_schema_js(schema).encode(),
        f"{WATERMELON_DIR}/migrations.json": dump(migrations),
        f"{WATERMELON_DIR}/migrations.js": watermelon_migrations_js(migrations).encode(),
    }


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
    files.update(sync_files())
    return files


#: Folders holding only generated files, and the names the generator makes there.
_GENERATED_FOLDERS = {SCHEMA_DIR: ("*.json",), WATERMELON_DIR: ("*.json", "*.js")}


def _stale(out_dir: Path, files: dict[str, bytes]) -> list[str]:
    """Generated-looking files in ``json-schema/`` or ``watermelon/`` that the generator no longer makes."""
    stale = []
    for folder_name, patterns in _GENERATED_FOLDERS.items():
        folder = out_dir / folder_name
        if not folder.is_dir():
            continue
        present = {f"{folder_name}/{p.name}" for pattern in patterns for p in folder.glob(pattern) if p.is_file()}
        stale += [name for name in present if name not in files]
    return sorted(stale)


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
