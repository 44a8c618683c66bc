"""The generated sync record shapes in clients/mobile-schema/ (see server/contract.py).

``watermelon/schema.json`` and ``schema.js`` are the WatermelonDB ``appSchema`` of the
synced tables, ``watermelon/migrations.json`` and ``migrations.js`` its migrations from
``MIN_SCHEMA_VERSION``, ``sync-tables.json`` the per-version column facts. No
database: everything here comes from ``server.sync.registry``. The Node tests run the
real ``@nozbe/watermelondb`` package of the test harness (``tests/sync/watermelon.py``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import typing
from pathlib import Path

import msgspec
import pytest

from server import contract
from server.contract import (
    SYNC_TABLES,
    WATERMELON_DIR,
    sync_files,
    watermelon_column,
    watermelon_migrations,
    watermelon_schema,
)
from server.sync import registry
from server.sync.registry import (
    MIN_SCHEMA_VERSION,
    SCHEMA_VERSION,
    TABLES,
    Kind,
    tables_for,
)

ROOT = Path(__file__).resolve().parents[2]
#: The mapping the phone app relies on, written out here on purpose (not imported).
PHONE_TYPE = {"uuid": "string", "text": "string", "date": "string", "decimal": "string", "json": "string",
              "int": "number", "float": "number", "timestamp": "number", "bool": "boolean"}
RESERVED = {"id", "_status", "_changed"}
REQUIRED = {"created_at", "updated_at", "version"}


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return sync_files()


@pytest.fixture(scope="module")
def schema(files) -> dict:
    return json.loads(files[f"{WATERMELON_DIR}/schema.json"])


@pytest.fixture(scope="module")
def migrations(files) -> list[dict]:
    return json.loads(files[f"{WATERMELON_DIR}/migrations.json"])


def by_name(items: list[dict]) -> dict[str, dict]:
    return {item["name"]: item for item in items}


# ---------------------------------------------------------------- appSchema


def test_every_kind_has_a_phone_type():
    assert set(typing.get_args(Kind)) == set(PHONE_TYPE) == set(contract.PHONE_TYPES)
    assert contract.PHONE_TYPES == PHONE_TYPE


def test_app_schema_has_every_synced_table_and_column(schema):
    assert schema["version"] == SCHEMA_VERSION
    assert [t["name"] for t in schema["tables"]] == [spec.name for spec in TABLES]
    tables = by_name(schema["tables"])
    for spec in TABLES:
        columns = by_name(tables[spec.name]["columns"])
        assert list(columns) == [name for name in spec.columns if name != "id"], spec.name
        for name, kind in spec.columns.items():
            if name == "id":
                continue
            column = columns[name]
            where = f"{spec.name}.{name}"
            assert set(column) == {"name", "type", "isOptional", "isIndexed"}, where
            assert column["type"] == PHONE_TYPE[kind], where
            assert column["isOptional"] is (name not in REQUIRED), where
            assert column["isIndexed"] is (name == "version" or name.endswith("_id")), where


def test_app_schema_follows_watermelon_rules(schema):
    for table in schema["tables"]:
        assert table["name"] not in RESERVED
        columns = by_name(table["columns"])
        assert not RESERVED & set(columns), table["name"]
        for name in ("created_at", "updated_at"):
            assert columns[name]["type"] == "number", (table["name"], name)
            assert columns[name]["isOptional"] is False, (table["name"], name)
        assert columns["version"] == {"name": "version", "type": "number", "isOptional": False, "isIndexed": True}


def test_older_schema_versions_have_only_what_they_knew():
    for version in range(MIN_SCHEMA_VERSION, SCHEMA_VERSION + 1):
        old = watermelon_schema(version)
        assert old["version"] == version
        assert [t["name"] for t in old["tables"]] == [spec.name for spec in tables_for(version)]
        for table in old["tables"]:
            spec = registry.BY_NAME[table["name"]]
            assert [c["name"] for c in table["columns"]] == [n for n in spec.columns_for(version) if n != "id"]
    assert watermelon_schema() == watermelon_schema(SCHEMA_VERSION)


@pytest.mark.parametrize("name", ["id", "_status", "_changed", "local_storage", "constructor", "Name", "a-b"])
def test_unusable_column_names_fail_generation(name):
    with pytest.raises(ValueError, match="WatermelonDB"):
        watermelon_column(name, "text")


@pytest.mark.parametrize("name", ["created_at", "updated_at"])
def test_created_and_updated_at_must_be_timestamps(name):
    assert watermelon_column(name, "timestamp")["type"] == "number"
    with pytest.raises(ValueError, match="must be a timestamp"):
        watermelon_column(name, "text")


# ---------------------------------------------------------------- migrations


def migrate(schema: dict, migrations: list[dict]) -> dict:
    """What WatermelonDB does with the steps: the schema after applying them in order."""
    tables = {t["name"]: list(t["columns"]) for t in schema["tables"]}
    version = schema["version"]
    for migration in sorted(migrations, key=lambda m: m["toVersion"]):
        if migration["toVersion"] <= version:
            continue
        assert migration["toVersion"] == version + 1, "migrations must have no gaps"
        for step in migration["steps"]:
            if step["type"] == "create_table":
                assert step["name"] not in tables
                tables[step["name"]] = list(step["columns"])
            else:
                assert step["type"] == "add_columns"
                have = {c["name"] for c in tables[step["table"]]}
                assert not have & {c["name"] for c in step["columns"]}
                tables[step["table"]] += step["columns"]
        version = migration["toVersion"]
    return {"version": version, "tables": tables}


def as_sets(schema: dict) -> dict:
    """Tables and columns, order aside (migrations append columns at the end)."""
    tables = schema["tables"]
    if isinstance(tables, list):
        tables = {t["name"]: t["columns"] for t in tables}
    return {"version": schema["version"],
            "tables": {name: sorted(json.dumps(c, sort_keys=True) for c in columns) for name, columns in tables.items()}}


def test_migrations_step_from_min_to_current(schema, migrations):
    assert [m["toVersion"] for m in migrations] == list(range(MIN_SCHEMA_VERSION + 1, SCHEMA_VERSION + 1))
    assert as_sets(migrate(watermelon_schema(MIN_SCHEMA_VERSION), migrations)) == as_sets(schema)
    for version in range(MIN_SCHEMA_VERSION, SCHEMA_VERSION + 1):  # from every supported version
        assert as_sets(migrate(watermelon_schema(version), migrations)) == as_sets(schema)


def test_migrations_follow_since_and_column_since(migrations):
    steps = {m["toVersion"]: m["steps"] for m in migrations}
    for spec in TABLES:
        if spec.since > MIN_SCHEMA_VERSION:
            [created] = [s for s in steps[spec.since] if s["type"] == "create_table" and s["name"] == spec.name]
            assert [c["name"] for c in created["columns"]] == [n for n in spec.columns_for(spec.since) if n != "id"]
        for column, since in spec.column_since.items():
            if since <= max(spec.since, MIN_SCHEMA_VERSION):
                continue
            added = [c["name"] for s in steps[since] if s["type"] == "add_columns" and s["table"] == spec.name
                     for c in s["columns"]]
            assert column in added, (spec.name, column)


def test_migrations_for_a_later_registry(monkeypatch):
    """Versions without changes still get a (empty) migration; new tables get later columns added."""
    accounts = registry.BY_NAME["accounts"]
    notes = dataclasses.replace(registry.BY_NAME["territories"], name="zone_notes", since=4,
                                column_since={"geometry_version": 5})
    later = (dataclasses.replace(accounts, column_since={**accounts.column_since, "visit_minutes": 5}),
             notes)
    monkeypatch.setattr(registry, "TABLES", later)
    monkeypatch.setattr(registry, "SCHEMA_VERSION", 5)
    monkeypatch.setattr(registry, "MIN_SCHEMA_VERSION", 2)
    migrations = watermelon_migrations()
    assert [m["toVersion"] for m in migrations] == [3, 4, 5]
    assert migrations[0]["steps"] == []
    [create] = migrations[1]["steps"]
    assert create["type"] == "create_table" and create["name"] == "zone_notes"
    assert "geometry_version" not in {c["name"] for c in create["columns"]}
    assert [(s["type"], s.get("table"), [c["name"] for c in s["columns"]]) for s in migrations[2]["steps"]] == [
        ("add_columns", "accounts", ["visit_minutes"]), ("add_columns", "zone_notes", ["geometry_version"])]
    assert as_sets(migrate(watermelon_schema(2), migrations)) == as_sets(watermelon_schema(5))


# ---------------------------------------------------------------- sync-tables.json


def test_sync_tables_per_version(files):
    doc = json.loads(files[SYNC_TABLES])
    assert (doc["schema_version"], doc["min_schema_version"]) == (SCHEMA_VERSION, MIN_SCHEMA_VERSION)
    assert set(doc["kinds"]) == set(PHONE_TYPE)
    assert {k: v["phone_type"] for k, v in doc["kinds"].items()} == PHONE_TYPE
    assert set(doc["writers"]) == set(typing.get_args(registry.Writer))
    assert set(doc["conflict_policies"]) == set(typing.get_args(registry.Policy))
    assert [v["schema_version"] for v in doc["versions"]] == list(range(MIN_SCHEMA_VERSION, SCHEMA_VERSION + 1))
    for entry in doc["versions"]:
        version = entry["schema_version"]
        assert [t["name"] for t in entry["tables"]] == [spec.name for spec in tables_for(version)]
        for table in entry["tables"]:
            spec = registry.BY_NAME[table["name"]]
            assert table["conflict_policy"] == spec.policy
            assert table["client_writable"] is (spec.writes is not None)
            writers = spec.writers
            assert [(c["name"], c["type"], c["phone_type"], c["writer"], c["conflict_policy"])
                    for c in table["columns"]] == [
                (name, kind, PHONE_TYPE[kind], writers[name], spec.policy_of(name))
                for name, kind in spec.columns_for(version).items()]


def test_sync_tables_match_capabilities(files):
    """The current version's entry says what GET /api/v1/sync/capabilities serves."""
    # Imported late: capabilities pulls in the pull and push modules.
    from server.sync.capabilities import capabilities

    served = msgspec.to_builtins(capabilities(1_000_000))
    doc = json.loads(files[SYNC_TABLES])
    current = doc["versions"][-1]
    assert current["schema_version"] == served["schema_version"]
    assert doc["min_schema_version"] == served["min_schema_version"]
    ours = [{**t, "columns": [{k: v for k, v in c.items() if k != "phone_type"} for c in t["columns"]]}
            for t in current["tables"]]
    assert ours == served["tables"]


# ---------------------------------------------------------------- the JS modules


def test_js_modules_say_they_are_generated(files):
    for name in ("schema.js", "migrations.js"):
        text = files[f"{WATERMELON_DIR}/{name}"].decode()
        head = text.splitlines()[:4]
        assert any("Generated by server.contract" in line for line in head), name
        assert any("python -m server.contract write" in line for line in head), name
        assert "from '@nozbe/watermelondb" in text
        assert text.endswith("})\n")


#: Directory imports (``@nozbe/watermelondb/Schema/migrations``) work in Metro and
#: CommonJS but not in Node's ESM loader (the package has no exports map): resolve
#: them to ``index.js`` as a bundler would.
RESOLVE_HOOK = """\
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context)
  } catch (error) {
    if (error.code === 'ERR_UNSUPPORTED_DIR_IMPORT') return next(`${specifier}/index.js`, context)
    throw error
  }
}
"""
REGISTER = "import { register } from 'node:module'\nregister('./hooks.mjs', import.meta.url)\n"
#: Imports WatermelonDB itself and both generated modules; prints what they built.
SCRIPT = """\
import * as watermelon from '@nozbe/watermelondb'
import schema from './schema.js'
import migrations from './migrations.js'
const cols = (list) => list.map((c) => ({ name: c.name, type: c.type, isOptional: !!c.isOptional, isIndexed: !!c.isIndexed }))
const rebuilt = watermelon.appSchema({ version: schema.version, tables: Object.values(schema.tables).map((t) => watermelon.tableSchema({ name: t.name, columns: t.columnArray })) })
process.stdout.write(JSON.stringify({
  tableNames: Object.keys(rebuilt.tables),
  version: schema.version,
  tables: Object.values(schema.tables).map((t) => ({ name: t.name, columns: cols(t.columnArray) })),
  migrations: migrations.sortedMigrations.map((m) => ({ toVersion: m.toVersion, steps: m.steps.map((s) => s.type === 'create_table'
    ? { type: s.type, name: s.schema.name, columns: cols(s.schema.columnArray) }
    : { type: s.type, table: s.table, columns: cols(s.columns) }) })),
  range: [migrations.minVersion, migrations.maxVersion],
}) + '\\n')
"""


def test_node_imports_the_generated_modules(files, schema, migrations, tmp_path):
    """Node loads schema.js and migrations.js with the real package: they build what the JSON says."""
    from tests.sync.watermelon import HARNESS_DIR, ensure_node_modules

    node = ensure_node_modules()
    # The generated files, next to the harness's node_modules (imports resolve from the file's folder).
    (tmp_path / "node_modules").symlink_to(HARNESS_DIR / "node_modules", target_is_directory=True)
    (tmp_path / "package.json").write_text('{"type": "module"}\n')
    (tmp_path / "hooks.mjs").write_text(RESOLVE_HOOK)
    (tmp_path / "register.mjs").write_text(REGISTER)
    for name in ("schema.js", "migrations.js"):
        (tmp_path / name).write_bytes(files[f"{WATERMELON_DIR}/{name}"])
    env = {**os.environ, "NODE_ENV": "development"}  # WatermelonDB validates names and types outside production
    r = subprocess.run([node, "--import", "./register.mjs", "--input-type=module", "-e", SCRIPT], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    built = json.loads(r.stdout.strip().splitlines()[-1])
    assert built["tableNames"] == [spec.name for spec in TABLES]
    assert built["version"] == SCHEMA_VERSION
    assert built["tables"] == schema["tables"]
    assert built["migrations"] == sorted(migrations, key=lambda m: m["toVersion"])
    assert built["range"] == [MIN_SCHEMA_VERSION, SCHEMA_VERSION]


def test_watermelon_database_migrates_from_the_oldest_version(schema, migrations):
    """A real WatermelonDB (LokiJS) opened at MIN_SCHEMA_VERSION upgrades to the current schema."""
    from tests.sync.watermelon import WatermelonClient, ensure_node_modules

    oldest = watermelon_schema(MIN_SCHEMA_VERSION)
    new_tables = [t["name"] for t in schema["tables"] if t["name"] not in by_name(oldest["tables"])]
    with WatermelonClient(node=ensure_node_modules(), timeout=60) as phone:
        # init makes no request: the base URL is only used by sync.
        opened = phone.init("http://127.0.0.1:9", "", "device-1", oldest)
        assert opened["tables"] == [t["name"] for t in oldest["tables"]]
        account = phone.create("accounts", {"name": "Acme Widgets", "city": "Chicago", "version": 3})
        for table in new_tables:
            assert not phone.request({"op": "count", "table": table}, check=False)["ok"]
        upgraded = phone.upgrade(schema, migrations)
        assert upgraded == {"ok": True, "tables": [t["name"] for t in schema["tables"]],
                            "schema_version": SCHEMA_VERSION}
        record = phone.get("accounts", account)
        assert record is not None and record["name"] == "Acme Widgets" and record["version"] == 3
        current = {c["name"] for c in by_name(schema["tables"])["accounts"]["columns"]}
        assert current <= set(record)
        for table in new_tables:
            assert phone.count(table) == 0
